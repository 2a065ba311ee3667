#!/usr/bin/env python3
"""make fleet against a lab on this machine: an SSH server of the test's own, on loopback only.

The inventory names this machine twice over SSH as root (`one`, `busy`), twice without SSH
(`here`, `plain`: ansible_connection=local) and a host nobody answers for (`gone`, a closed
port). The first fleet run sends the checkout, builds and runs `make bench QUICK=1
ONLY=minor_fault` on `one` and brings its run folder back; `gone` is unreachable; the fleet exits
4 and says which. A second run into the same fleet folder (FLEET=, LIMIT=busy:here) while the
test holds the machine's run lock finds both refused and keeps what the first found. A third
(LIMIT=here) measures `here`. A fourth, the whole fleet run as nobody (setpriv: no root, no
sudo, its home in the test's folder), measures `plain`: partial, swap_in's rungs skipped as
needing root, exit 4. `compare --fleet` sets the runs side by side in a matrix. Skips (77)
without sshd, ansible-playbook or root. The SSH server, its keys and the remote checkouts live
in a temporary folder and go with it.
"""
import argparse
import fcntl
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lab import SKIP, compare_fleet, fail, fleet, fleet_hosts, free_port, ssh_key, ssh_server, ssh_vars, unreachable_gone


# The host without root or sudo: this machine again (ansible_connection=local), the whole fleet run
# as nobody (setpriv), everything it writes under the test's folder.
NOBODY = 65534


def as_nobody(folder):
    """(prefix, environment) that run make fleet as nobody, its home in folder/nobody."""
    home = folder / "nobody"
    owned = (home, folder / "nobody-results", folder / "nobody-remote")
    for path in owned:
        path.mkdir(parents=True)
        os.chown(path, NOBODY, NOBODY)
    env = dict(os.environ, HOME=str(home), USER="nobody", LOGNAME="nobody",
               # Ansible's files on the host side: nobody's home in passwd is /nonexistent.
               ANSIBLE_REMOTE_TMP=str(home / "ansible-tmp"), ANSIBLE_ASYNC_DIR=str(home / "ansible-async"),
               # The checkout is root's: git would refuse to list another user's repository.
               GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="safe.directory", GIT_CONFIG_VALUE_0="*")
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    return prefix, env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--python", required=True)
    a = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("ansible-playbook") or not Path("/usr/sbin/sshd").exists():
        print("SKIP: needs root, ansible-playbook and sshd (make deps FLEET_DEPS=1)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="pageladder-fleet-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # nobody works under it
        port, closed = free_port(), free_port()
        client = ssh_key(folder, "client")
        with ssh_server(folder, port, client):
            (folder / "inventory").write_text(
                f"[lab]\none ansible_host=127.0.0.1 ansible_port={port}\n"
                f"busy ansible_host=127.0.0.1 ansible_port={port}\n"
                f"gone ansible_host=127.0.0.1 ansible_port={closed}\n"
                "here ansible_connection=local\nplain ansible_connection=local\n\n[all:vars]\n" + ssh_vars(client))
            first_hosts = "one:gone"
            first = fleet(a.source, a.python, folder, "--limit", first_hosts)
            fleet_dir, hosts = unreachable_gone(first, folder)
            if hosts["one"]["status"] not in ("ok", "partial") or "without root" in hosts["one"]["machine"]:
                fail(f"one (root over SSH): {hosts['one']}")
            run = fleet_dir / hosts["one"]["run"]
            if run.parent.name != "one" or not (run / "run.json").is_file():
                fail(f"one's run folder is not under {fleet_dir}/one/<run-id>/: {run}")
            # `one` is partial where this machine skips a rung (1 GiB pages, say): named too.
            not_ok = [f"{h} ({hosts[h]['status']})" for h in first_hosts.split(":") if hosts[h]["status"] != "ok"]
            last = first.stdout.strip().splitlines()[-1]
            if last != f"pageladder fleet: not ok: {', '.join(not_ok)}" or "gone (unreachable)" not in last:
                fail(f"the last line names the hosts that are not ok: {last!r}")
            # The same machine again, while another run holds it.
            Path("/run/pageladder").mkdir(parents=True, exist_ok=True, mode=0o700)
            with open("/run/pageladder/lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                second = fleet(a.source, a.python, folder, "--fleet", str(fleet_dir), "--limit", "busy:here")
            print(second.stdout[-2000:])
            hosts = fleet_hosts(fleet_dir)
            for name in ("busy", "here"):
                if hosts[name]["status"] != "refused":
                    fail(f"{name}, run while the machine's run lock was held: {hosts[name]}")
            if hosts["one"]["status"] not in ("ok", "partial") or hosts["gone"]["status"] != "unreachable":
                fail("a second run into the fleet folder lost the first's hosts")
            if second.returncode != 4 or "fleet.md" not in {p.name for p in fleet_dir.iterdir()}:
                fail("the second run's exit status or fleet.md")
            # This machine without SSH (ansible_connection=local): measured like any other host.
            third = fleet(a.source, a.python, folder, "--fleet", str(fleet_dir), "--limit", "here")
            print(third.stdout[-2000:])
            hosts = fleet_hosts(fleet_dir)
            if hosts["here"]["status"] not in ("ok", "partial"):
                fail(f"here (ansible_connection=local): {hosts['here']}")
            if not (fleet_dir / hosts["here"]["run"] / "run.json").is_file():
                fail(f"here's run folder was not brought back: {hosts['here']}")
            check_without_root(a, folder)
            matrix, written = compare_fleet(a.source, a.python, fleet_dir, folder / "compared")
            print(matrix.stdout[-1500:])
            measured = [h for h, e in hosts.items() if e.get("run")]
            if len(written.get("sides", [])) != len(measured):
                fail(f"compare --fleet: a matrix of the {len(measured)} hosts measured ({measured}), "
                     f"not {written.get('sides')}")
    print("PASS: one and here measured and brought back, gone unreachable, busy and here refused under the "
          "run lock, exit 4 with its reasons, a matrix of the hosts measured; plain (nobody) partial, the "
          "rungs that need root skipped with that reason")
    return 0


def check_without_root(a, folder):
    """This machine as a host without root or sudo: its partial ladder, with the reasons (swap_in's
    rungs need root whatever the machine has), brought back; Ansible's files in nobody's home."""
    prefix, env = as_nobody(folder)
    done = fleet(a.source, a.python, folder, "--limit", "plain", results=folder / "nobody-results",
                 bench_vars=("QUICK=1", "ONLY=minor_fault swap_in"), prefix=prefix, env=env,
                 remote=folder / "nobody-remote")
    print(done.stdout[-2000:])
    found = list((folder / "nobody-results").glob("fleet-*"))
    if not found:
        fail(f"make fleet as nobody wrote no fleet folder (exit {done.returncode})")
    entry = fleet_hosts(found[0])["plain"]
    if entry["status"] != "partial" or "(without root or sudo)" not in entry.get("machine", ""):
        fail(f"plain (nobody: no root, no sudo): {entry}")
    swap = [s for s in entry.get("skipped", []) if s["rung"].startswith("swap_in")]
    if not swap or not all("root" in s["reason"] for s in swap):
        fail(f"plain's swap_in rungs are not skipped as needing root: {entry.get('skipped')}")
    if not (found[0] / entry["run"] / "run.json").is_file():
        fail(f"plain's run folder was not brought back: {entry}")
    if done.returncode != 4 or not done.stdout.strip().endswith("not ok: plain (partial)"):
        fail(f"a partial host makes the fleet exit 4 and say so: exit {done.returncode}")


if __name__ == "__main__":
    sys.exit(main())
