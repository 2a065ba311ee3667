"""make fleet: the ladder on every machine of an Ansible inventory, their run folders brought back
under results/fleet-<fleet-id>/<inventory host>/<run-id>/, and one account of the lot.

Ansible does what it does well (SSH to many hosts at once, become, async tasks polled past SSH
time-outs, fetching files): fleet/playbook.yml, one play. This script prepares the checkout
(tracked files only), runs the play, and reads what each host left behind into fleet.json and
fleet.md: per host its status (ok; partial, with the rungs it skipped and why; unreachable;
failed, with its log's last lines; refused, when another pageladder run held the machine), its
run folder and its machine and kernel in one line. A host that fails never costs another its
results. Exit status 0 when every host is ok, 4 when any is not; the last line says which.
FLEET=<a fleet folder> runs again into it (with LIMIT=, only the hosts named), keeping the
other hosts' results and every host's earlier runs.

Nothing read from the inventory or from a host becomes shell text or an unchecked path: host
names are plain names (checked before the play), each host's pageladder_make_vars a mapping of
the per-host make variables whose values pass make's own checks (pageladder.inputs), and what a
host sends back is unpacked as regular files only (safe_io.extract_regular).
"""
import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1
EXIT_NOT_ALL_OK = 4
EXIT_USAGE = 2
REFUSED_STATUS = 7  # the harness's EXIT_BUSY: another run holds that machine (docs/names.md)
ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = Path(__file__).resolve().parent / "playbook.yml"
sys.path.insert(0, str(ROOT / "harness"))
from pageladder import collect, inputs, safe_io  # noqa: E402

# The make variables the fleet passes to every host's make bench (make fleet QUICK=1 ONLY=...).
FLEET_VARIABLES = ("QUICK", "ONLY", "ANATOMY")


def hosts_of(inventory, limit):
    """The inventory's hosts (after LIMIT), in its order, as Ansible names them."""
    cmd = ["ansible", "all", "-i", str(inventory), "--list-hosts"] + (["--limit", limit] if limit else [])
    # An inventory Ansible cannot parse is an error, not an empty lab (Ansible's default only warns).
    done = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED="True"))
    if done.returncode != 0:
        said = done.stderr or done.stdout
        if limit and "No inventory was parsed" not in said and "Failed to parse" not in said:
            return []  # parsed, but LIMIT matches none of its hosts
        # Ansible wraps its warnings: read them as one line, the parser's complaint first.
        flat = " ".join(said.split())
        found = re.search(r"Failed to parse (.*?)(?: \[WARNING\]| ERROR!|$)", flat)
        why = found.group(1) if found else flat[-300:]
        raise ValueError(f"the inventory cannot be parsed: {why}")
    return [line.strip() for line in done.stdout.splitlines()[1:] if line.strip()]


def check_hosts(inventory, hosts):
    """Refuses (ValueError, one line) a host whose name is no plain name (it names folders here
    and there) or whose pageladder_make_vars is not a mapping of per-host make variables with
    values make accepts."""
    for host in hosts:
        safe_io.safe_name(host, "the inventory's host")
    done = subprocess.run(["ansible-inventory", "-i", str(inventory), "--list"], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"ansible-inventory cannot list {inventory}: {done.stderr.strip()[-300:]}")
    hostvars = (safe_io.parse_json(done.stdout, "ansible-inventory's list").get("_meta") or {}).get("hostvars") or {}
    for host in hosts:
        free = (hostvars.get(host) or {}).get("pageladder_min_free_mib")
        if free is not None and not (isinstance(free, int) or (isinstance(free, str) and free.isascii()
                                                                and free.isdigit())):
            raise ValueError(f"{host}: pageladder_min_free_mib must be a whole number of MiB, not {free!r}")
        given = (hostvars.get(host) or {}).get("pageladder_make_vars")
        if given is None:
            continue
        if not isinstance(given, dict):
            raise ValueError(f"{host}: pageladder_make_vars must be a mapping of make variables "
                             f"(say {{\"CPU\": \"3\"}}), not {type(given).__name__}")
        for name, value in given.items():
            if name not in inputs.HOST_VARIABLES:
                raise ValueError(f"{host}: pageladder_make_vars may set {', '.join(inputs.HOST_VARIABLES)}, "
                                 f"not {name!r}")
            if not isinstance(value, str):  # the environment of a command holds text only
                raise ValueError(f"{host}: pageladder_make_vars: {name} must be text (in quotes), not "
                                 f"{type(value).__name__}")
            try:
                inputs.check(name, value)
            except inputs.InputError as e:
                raise ValueError(f"{host}: pageladder_make_vars: {e}") from None


def bench_environment(assignments):
    """make bench's variables for every host ({name: value}) from --bench-var NAME=VALUE."""
    env = {}
    for text in assignments:
        name, _, value = text.partition("=")
        if name not in FLEET_VARIABLES:
            raise ValueError(f"--bench-var {name}: one of {', '.join(FLEET_VARIABLES)}")
        try:
            inputs.check(name, value)
        except inputs.InputError as e:
            raise ValueError(str(e)) from None
        env[name] = value
    return env


def pack_checkout(dest):
    """A .tar.gz of the tracked files as they are in the working tree (no build/, no results/)."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-C", str(ROOT), "--null", "-T", "-", "-czf", str(dest)], input=files, check=True)
    return dest


def machine_line(run):
    """Machine and kernel in one line, from a run.json."""
    block = run["pageladder"]
    m, k = block["machine"], block["kernel"]
    return (f"{m.get('hostname')}: {m.get('cpu_model')}, {m.get('cpus')} CPUs, kernel {k.get('release')}")


def host_entry(host_dir):
    """What one host left in its folder, as fleet.json's entry."""
    outcome_path = host_dir / "outcome.json"
    if not outcome_path.is_file():
        return {"status": "unreachable", "why": "no answer over SSH (see ansible.log)"}
    try:
        outcome = safe_io.load_json(outcome_path, "outcome.json")
        tail = [str(line) for line in outcome.get("log_tail") or [] if isinstance(line, (str, int, float))]
    except (safe_io.DataFileError, TypeError) as e:
        return {"status": "failed", "why": f"its outcome cannot be read: {e}"}
    # Refused before sending anything (the play's check of the run lock), or by make bench
    # itself (make exits 2 whatever its recipe's status; it names that status, "Error 7", last).
    refused = outcome.get("status") == REFUSED_STATUS or any(line.rstrip().endswith(f"Error {REFUSED_STATUS}")
                                                             for line in tail[-3:])
    if refused:
        return {"status": "refused", "why": "another pageladder run held the machine (the run lock)",
                "log_tail": tail}
    if outcome.get("stage") != "bench":
        return {"status": "failed", "why": f"{outcome.get('stage')}: {outcome.get('message')}", "log_tail": tail}
    run_dir, why = unpack_run(host_dir, outcome) if outcome.get("status") == 0 else (None, "")
    if run_dir is None:
        last = why or next((line.strip() for line in reversed(tail) if line.strip()), "")
        return {"status": "failed", "why": f"make bench exited with status {outcome.get('status')}"
                + (f": {last}" if last else ""), "log_tail": tail}
    try:
        run = collect.load_run(run_dir)
    except collect.RunError as e:
        return {"status": "failed", "why": f"its run cannot be read: {e}", "log_tail": tail}
    skipped = [s for s in run["pageladder"]["skipped"] if s.get("rung")]
    entry = {"status": "partial" if skipped else "ok", "run": str(run_dir.relative_to(host_dir.parent)),
             "machine": machine_line(run) + ("" if outcome.get("as_root", True) else " (without root or sudo)")}
    if skipped:
        entry["skipped"] = [{"rung": s["rung"], "reason": s["reason"]} for s in skipped]
    return entry


def unpack_run(host_dir, outcome):
    """(the host's run folder, unpacked from what it sent back, regular files only; or None and
    why). An earlier run of the same name is kept: this one is not unpacked over it."""
    name, archive = outcome.get("run"), host_dir / "run.tar.gz"
    try:
        safe_io.safe_name(name, "the run it names")
        if not archive.is_file():
            return None, "no run was brought back"
        if (host_dir / name).exists():
            return None, f"{host_dir / name} exists already: an earlier run of that name is kept"
        run_dir, left = safe_io.extract_regular(archive, host_dir, name)
    except (ValueError, OSError, tarfile.TarError) as e:
        return None, f"its run cannot be unpacked: {e}"
    finally:
        archive.unlink(missing_ok=True)
    if left:
        print(f"pageladder fleet: {host_dir.name}: left out of its run (not regular files): {', '.join(left[:5])}",
              file=sys.stderr)
    return run_dir, ""


def render_markdown(fleet):
    lines = [f"# pageladder fleet `{fleet['fleet_id']}`", "", f"Inventory `{fleet['inventory']}`, "
             f"`make bench {fleet['bench_args']}`.", "", "| host | status | run | machine and kernel, or why |",
             "|---|---|---|---|"]
    for host, e in fleet["hosts"].items():
        detail = e.get("machine") or e.get("why", "")
        if e.get("skipped"):
            detail += "; skipped: " + "; ".join(f"`{s['rung']}` ({s['reason']})" for s in e["skipped"])
        lines.append(f"| `{host}` | {e['status']} | {('`' + e['run'] + '`') if e.get('run') else '–'} | {detail} |")
    failed = [(h, e) for h, e in fleet["hosts"].items() if e.get("log_tail") and e["status"] != "ok"]
    for host, e in failed:
        lines += ["", f"## `{host}`: the last lines of its log", "", "```", *e["log_tail"][-20:], "```"]
    return "\n".join(lines) + "\n"


def summary(fleet):
    """The last line: all ok, or which hosts are not."""
    bad = [f"{h} ({e['status']})" for h, e in fleet["hosts"].items() if e["status"] != "ok"]
    if not bad:
        return f"pageladder fleet: all {len(fleet['hosts'])} hosts ok"
    return f"pageladder fleet: not ok: {', '.join(bad)}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make fleet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--limit", default="")
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--fleet", default="", help="a fleet folder to run again into")
    parser.add_argument("--results", default="results")
    parser.add_argument("--bench-var", action="append", default=[], metavar="NAME=VALUE",
                        help=f"a make bench variable for every host ({', '.join(FLEET_VARIABLES)})")
    parser.add_argument("--remote-dir", default="",
                        help="the hosts' work folders' parent (default: /var/lib/pageladder-fleet for root, "
                             "~/.cache/pageladder-fleet otherwise)")
    parser.add_argument("--min-free-mib", type=int, default=2048)
    parser.add_argument("--timeout", type=int, default=4 * 3600, help="seconds one host's make bench may take")
    args = parser.parse_args(argv)
    if not shutil.which("ansible-playbook"):
        print("pageladder fleet: ansible-playbook not found (make deps INVENTORY=... installs ansible-core)",
              file=sys.stderr)
        return EXIT_USAGE
    if not Path(args.inventory).is_file():
        print(f"pageladder fleet: no inventory file {args.inventory}", file=sys.stderr)
        return EXIT_USAGE
    try:
        bench_env = bench_environment(args.bench_var)
        hosts = hosts_of(args.inventory, args.limit)
        check_hosts(args.inventory, hosts)
    except ValueError as e:
        print(f"pageladder fleet: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not hosts:
        print(f"pageladder fleet: {'LIMIT=' + args.limit + ' matches no host of ' if args.limit else 'no host in '}"
              f"{args.inventory}", file=sys.stderr)
        return EXIT_USAGE
    fleet_dir = Path(args.fleet) if args.fleet else \
        Path(args.results) / f"fleet-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    fleet_dir = fleet_dir.resolve()
    fleet_dir.mkdir(parents=True, exist_ok=True)
    previous = {}
    if (fleet_dir / "fleet.json").exists():
        try:
            previous = safe_io.load_json(fleet_dir / "fleet.json", "fleet.json")
            if not isinstance(previous.get("hosts", {}), dict):
                raise safe_io.DataFileError(f"{fleet_dir / 'fleet.json'}: 'hosts' is not an object")
        except safe_io.DataFileError as e:
            print(f"pageladder fleet: {e}", file=sys.stderr)
            return EXIT_USAGE
    for host in hosts:  # this run's hosts: their outcome anew, their earlier runs kept
        (fleet_dir / host).mkdir(exist_ok=True)
        for stale in ("outcome.json", "run.tar.gz"):
            (fleet_dir / host / stale).unlink(missing_ok=True)
    # The play's own files, in a folder only this user can read (the playbook reads them as data).
    with tempfile.TemporaryDirectory(prefix=".play-", dir=fleet_dir) as play:
        checkout = pack_checkout(Path(play) / "checkout.tar.gz")
        variables = {"fleet_dir": str(fleet_dir), "checkout": str(checkout), "bench_env": bench_env,
                     "remote_base": args.remote_dir, "min_free_mib": args.min_free_mib,
                     "bench_timeout": args.timeout}
        safe_io.write_json_atomically(Path(play) / "vars.json", variables)
        cmd = ["ansible-playbook", "-i", str(Path(args.inventory).resolve()), str(PLAYBOOK), "--forks",
               str(args.forks), "-e", f"@{Path(play) / 'vars.json'}"] + (["--limit", args.limit] if args.limit else [])
        print(f"pageladder fleet: {len(hosts)} hosts into {fleet_dir} (Ansible's log: ansible.log)", flush=True)
        with open(fleet_dir / "ansible.log", "a") as log:
            subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
                           env=dict(os.environ, ANSIBLE_RETRY_FILES_ENABLED="0"))
    entries = dict(previous.get("hosts") or {})
    entries.update({host: host_entry(fleet_dir / host) for host in hosts})
    shown = " ".join(f"{k}={v}" for k, v in bench_env.items())
    fleet = {"schema_version": SCHEMA_VERSION, "fleet_id": fleet_dir.name.removeprefix("fleet-"),
             "inventory": str(args.inventory), "bench_args": shown, "bench_vars": bench_env, "hosts": entries}
    safe_io.write_json_atomically(fleet_dir / "fleet.json", fleet)
    safe_io.write_text_atomically(fleet_dir / "fleet.md", render_markdown(fleet))
    print(render_markdown(fleet))
    print(summary(fleet))
    return 0 if all(e["status"] == "ok" for e in entries.values()) else EXIT_NOT_ALL_OK


if __name__ == "__main__":
    sys.exit(main())
