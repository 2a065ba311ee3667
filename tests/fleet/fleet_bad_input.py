#!/usr/bin/env python3
"""make fleet given bad input: one clear line and exit 2 for an inventory that is missing, one
Ansible cannot parse, and a LIMIT that matches no host; and, in one fleet run of this machine
without SSH (ansible_connection=local), a host whose disk is too full (pageladder_min_free_mib
above what /var/tmp has) and a host whose build fails (a compiler that does not work,
pageladder_make_vars="CXX=/bin/false") each `failed`, with the reason in fleet.md and on the
console, and the fleet exits 4 naming both. Skips (77) without ansible-playbook or root.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lab import SKIP, fail, fleet, fleet_hosts


def main():
    source, python = sys.argv[1:3]
    if os.geteuid() != 0 or not shutil.which("ansible-playbook"):
        print("SKIP: needs root and ansible-playbook (make deps FLEET_DEPS=1)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="pageladder-fleet-bad-") as tmp:
        folder = Path(tmp)
        (folder / "unparsable.ini").write_text("[lab\nhere ansible_connection=local\n")
        (folder / "lab.ini").write_text(
            "full ansible_connection=local pageladder_min_free_mib=1000000000\n"
            "broken ansible_connection=local pageladder_make_vars=CXX=/bin/false\n"
            "[all:vars]\nansible_python_interpreter=/usr/bin/python3\n")
        for inventory, args, words in ((folder / "missing.ini", (), "no inventory file"),
                                       (folder / "unparsable.ini", (), "cannot be parsed"),
                                       (folder / "lab.ini", ("--limit", "nothing"), "matches no host")):
            done = fleet(source, python, folder, *args, inventory=inventory, timeout=900)
            if done.returncode != 2 or words not in done.stdout or len(done.stdout.strip().splitlines()) != 1:
                fail(f"{inventory.name} {' '.join(args)}: exit {done.returncode}, said {done.stdout.strip()[-400:]!r}")
        done = fleet(source, python, folder, inventory=folder / "lab.ini", timeout=900)
        print(done.stdout[-3000:])
        if done.returncode != 4:
            fail(f"a fleet of failing hosts exits 4, not {done.returncode}")
        fleet_dir = next((folder / "results").glob("fleet-*"))
        hosts = fleet_hosts(fleet_dir)
        if hosts["full"]["status"] != "failed" or "MiB free under /var/tmp" not in hosts["full"]["why"]:
            fail(f"full: {hosts['full']}")
        if hosts["broken"]["status"] != "failed" or "make bench exited" not in hosts["broken"]["why"] \
                or not any("compiler" in line.lower() or "cxx" in line.lower() for line in hosts["broken"]["log_tail"]):
            fail(f"broken: {hosts['broken']}")
        markdown = (fleet_dir / "fleet.md").read_text()
        if "MiB free under /var/tmp" not in markdown or "## `broken`" not in markdown:
            fail("fleet.md lacks a host's reason")
        if not done.stdout.strip().endswith("not ok: full (failed), broken (failed)"):
            fail("the last line names the hosts that are not ok")
    print("PASS: missing, unparsable inventory and an empty LIMIT refused in one line; a full disk and a "
          "failed build each reported failed with the reason; exit 4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
