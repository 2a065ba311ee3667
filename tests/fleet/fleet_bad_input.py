#!/usr/bin/env python3
"""make fleet given bad input: one clear line and exit 2, before any host is touched, for an
inventory that is missing, one Ansible cannot parse, a LIMIT that matches no host, a host name
that is no plain name, pageladder_make_vars given as shell text rather than a mapping, and a
per-host value make would refuse; and, in one fleet run of this machine without SSH
(ansible_connection=local), a host whose disk is too full (pageladder_min_free_mib above what its
work folder has), a host whose build fails (a compiler that does not work,
pageladder_make_vars={"CXX": "/bin/false"}) and a host whose work folder another user made first
(refused, nothing run in it) each `failed`, with the reason in fleet.md and on the console, and
the fleet exits 4 naming them. Skips (77) without ansible-playbook or root.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab import SKIP, fail, fleet, fleet_hosts


def check_a_killed_run_is_restored(source, python, folder, local):
    """A host whose make bench outlives --timeout is killed there; the play then restores what the
    journal lists (here a change of a process that died, on a knob file of the test's own) before
    it reports the host failed. The time-out falls in the build, before the harness could restore."""
    knob = folder / "knob"
    knob.write_text("0")
    dead = subprocess.Popen(["true"])
    dead.wait()
    journal = Path("/run/pageladder/journal.jsonl")
    Path("/run/pageladder").mkdir(mode=0o700, exist_ok=True)
    entry = {"format": 2, "id": f"{dead.pid}-{time.time_ns()}-0", "pid": dead.pid, "kind": "sysctl",
             "path": str(knob), "old": "3", "new": "0"}
    with open(journal, "a") as f:
        f.write(json.dumps(entry, separators=(",", ":")) + "\n")
    (folder / "slow.ini").write_text(f"slow {local}\n")
    done = fleet(source, python, folder, "--timeout", "4", inventory=folder / "slow.ini",
                 results=folder / "slow-results", remote=folder / "slow-remote", timeout=900)
    print(done.stdout[-1500:])
    fleet_dir = next((folder / "slow-results").glob("fleet-*"))
    entry = fleet_hosts(fleet_dir)["slow"]
    outcome = json.loads((fleet_dir / "slow" / "outcome.json").read_text())
    if entry["status"] != "failed" or knob.read_text() != "3" or not outcome.get("restored"):
        fail(f"a host killed by its time-out: {entry}; the knob reads {knob.read_text()!r}; "
             f"restore said {outcome.get('restored')}")


def main():
    source, python = sys.argv[1:3]
    if os.geteuid() != 0 or not shutil.which("ansible-playbook"):
        print("SKIP: needs root and ansible-playbook (make deps FLEET_DEPS=1)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="pageladder-fleet-bad-") as tmp:
        folder = Path(tmp)
        (folder / "unparsable.ini").write_text("[lab\nhere ansible_connection=local\n")
        local = "ansible_connection=local ansible_python_interpreter=/usr/bin/python3"
        (folder / "lab.ini").write_text(
            f"full {local} pageladder_min_free_mib=1000000000\n"
            f"broken {local} pageladder_make_vars='{{\"CXX\": \"/bin/false\"}}'\n"
            f"foreign {local}\n")
        (folder / "strung.ini").write_text(f"strung {local} pageladder_make_vars='CXX=/bin/false; touch {folder}/probe'\n")
        (folder / "hostile.ini").write_text(f"hostile {local} pageladder_make_vars='{{\"FILE_DIR\": \"/x`touch {folder}/probe`\"}}'\n")
        (folder / "foreign-var.ini").write_text(f"other {local} pageladder_make_vars='{{\"RESULTS\": \"/etc\"}}'\n")
        for inventory, args, words in ((folder / "missing.ini", (), "no inventory file"),
                                       (folder / "unparsable.ini", (), "cannot be parsed"),
                                       (folder / "lab.ini", ("--limit", "nothing"), "matches no host"),
                                       (folder / "strung.ini", (), "must be a mapping"),
                                       (folder / "hostile.ini", (), "FILE_DIR="),
                                       (folder / "foreign-var.ini", (), "not 'RESULTS'")):
            done = fleet(source, python, folder, *args, inventory=inventory, timeout=900)
            if done.returncode != 2 or words not in done.stdout or len(done.stdout.strip().splitlines()) != 1:
                fail(f"{inventory.name} {' '.join(args)}: exit {done.returncode}, said {done.stdout.strip()[-400:]!r}")
            if (folder / "probe").exists() or (folder / "remote").exists():
                fail(f"{inventory.name}: refused, yet something ran (a probe file or a work folder appeared)")
        # A work folder another user made first: refused, nothing unpacked or run in it.
        planted = folder / "remote" / "foreign"
        planted.mkdir(parents=True)
        (folder / "remote").chmod(0o700)
        os.chown(planted, 65534, 65534)
        done = fleet(source, python, folder, inventory=folder / "lab.ini", timeout=900)
        print(done.stdout[-3000:])
        if done.returncode != 4:
            fail(f"a fleet of failing hosts exits 4, not {done.returncode}")
        fleet_dir = next((folder / "results").glob("fleet-*"))
        hosts = fleet_hosts(fleet_dir)
        if hosts["full"]["status"] != "failed" or "MiB free under" not in hosts["full"]["why"]:
            fail(f"full: {hosts['full']}")
        if hosts["broken"]["status"] != "failed" or "make bench exited" not in hosts["broken"]["why"] \
                or not any("compiler" in line.lower() or "cxx" in line.lower() for line in hosts["broken"]["log_tail"]):
            fail(f"broken: {hosts['broken']}")
        if hosts["foreign"]["status"] != "failed" or "not the work folder's to use" not in hosts["foreign"]["why"] \
                or any(planted.iterdir()):
            fail(f"foreign (a work folder of another user's): {hosts['foreign']}, holding {list(planted.iterdir())}")
        markdown = (fleet_dir / "fleet.md").read_text()
        if "MiB free under" not in markdown or "## `broken`" not in markdown:
            fail("fleet.md lacks a host's reason")
        if not done.stdout.strip().endswith("not ok: full (failed), broken (failed), foreign (failed)"):
            fail("the last line names the hosts that are not ok")
        check_a_killed_run_is_restored(source, python, folder, local)
    print("PASS: missing, unparsable inventory, an empty LIMIT, make variables as shell text, a hostile "
          "or foreign per-host variable refused in one line; a full disk, a failed build and a work folder "
          "of another user's each reported failed with the reason; exit 4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
