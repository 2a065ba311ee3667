#!/usr/bin/env python3
"""make fleet against a lab on this machine: an SSH server of the test's own, on loopback only.

The inventory names this machine twice over SSH (`one`, `busy`), once without SSH (`here`,
ansible_connection=local) and a host nobody answers for (`gone`, a closed port). The first fleet
run sends the checkout, builds and runs `make bench QUICK=1 ONLY=minor_fault` on `one` and
brings its run folder back; `gone` is unreachable; the fleet exits 4 and says which. A second
run into the same fleet folder (FLEET=, LIMIT=busy:here) while the test holds the machine's run
lock finds both refused and keeps what the first found. A third (LIMIT=here) measures `here`,
and `compare --fleet` sets its run beside one's in a matrix. Skips (77) without sshd, ansible-playbook or root. The SSH server, its
keys and the remote checkouts live in a temporary folder and go with it.
"""
import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKIP = 77


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def ssh_server(folder, port):
    """sshd on 127.0.0.1:port, key login for root, killed with the test (even SIGKILLed)."""
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True)
    shutil.copy(folder / "client.pub", folder / "authorized_keys")
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {folder / 'sshd.pid'}\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation wants it
    server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(folder / "sshd_config")],
                              stderr=open(folder / "sshd.log", "w"), preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.1)
        else:
            fail(f"sshd did not listen: {(folder / 'sshd.log').read_text()[-500:]}")
        yield
    finally:
        server.kill()
        server.wait()


def fleet(source, python, folder, *args):
    return subprocess.run([python, str(Path(source) / "fleet" / "fleet.py"), "--inventory", str(folder / "inventory"),
                           "--results", str(folder / "results"), "--remote-dir", str(folder / "remote"),
                           "--min-free-mib", "100", "--bench-args", "QUICK=1 ONLY=minor_fault", *args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)


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
        port, closed = free_port(), free_port()
        with ssh_server(folder, port):
            (folder / "inventory").write_text(
                f"[lab]\none ansible_host=127.0.0.1 ansible_port={port}\n"
                f"busy ansible_host=127.0.0.1 ansible_port={port}\n"
                f"gone ansible_host=127.0.0.1 ansible_port={closed}\n"
                "here ansible_connection=local\n\n[all:vars]\nansible_user=root\n"
                f"ansible_ssh_private_key_file={folder / 'client'}\nansible_python_interpreter=/usr/bin/python3\n"
                "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n")
            first = fleet(a.source, a.python, folder, "--limit", "one:gone")
            print(first.stdout[-3000:])
            if first.returncode != 4:
                fail(f"a fleet with an unreachable host exits 4, not {first.returncode}")
            fleet_dir = next((folder / "results").glob("fleet-*"))
            hosts = json.loads((fleet_dir / "fleet.json").read_text())["hosts"]
            if hosts["gone"]["status"] != "unreachable":
                fail(f"gone: {hosts['gone']}")
            if hosts["one"]["status"] not in ("ok", "partial"):
                fail(f"one: {hosts['one']}")
            run = fleet_dir / hosts["one"]["run"]
            if run.parent.name != "one" or not (run / "run.json").is_file():
                fail(f"one's run folder is not under {fleet_dir}/one/<run-id>/: {run}")
            # `one` is partial where this machine skips a rung (1 GiB pages, say): named too.
            last = first.stdout.strip().splitlines()[-1]
            if last not in ("pageladder fleet: not ok: gone (unreachable)",
                            "pageladder fleet: not ok: one (partial), gone (unreachable)") or \
                    ("(partial)" in last) != (hosts["one"]["status"] == "partial"):
                fail(f"the last line names the hosts that are not ok: {last!r}")
            # The same machine again, while another run holds it.
            Path("/run/pageladder").mkdir(parents=True, exist_ok=True, mode=0o700)
            with open("/run/pageladder/lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                second = fleet(a.source, a.python, folder, "--fleet", str(fleet_dir), "--limit", "busy:here")
            print(second.stdout[-2000:])
            hosts = json.loads((fleet_dir / "fleet.json").read_text())["hosts"]
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
            hosts = json.loads((fleet_dir / "fleet.json").read_text())["hosts"]
            if hosts["here"]["status"] not in ("ok", "partial"):
                fail(f"here (ansible_connection=local): {hosts['here']}")
            if not (fleet_dir / hosts["here"]["run"] / "run.json").is_file():
                fail(f"here's run folder was not brought back: {hosts['here']}")
            matrix = subprocess.run([a.python, "-m", "pageladder", "compare", "--fleet", str(fleet_dir),
                                     "--results", str(folder / "compared")],
                                    cwd=Path(a.source) / "harness", env={**os.environ, "MPLBACKEND": "Agg"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, timeout=600)
            print(matrix.stdout[-1500:])
            found = list((folder / "compared").rglob("matrix.json"))
            written = json.loads(found[0].read_text()) if found else {}
            if len(written.get("sides", [])) != 2:
                fail(f"compare --fleet: a matrix of the two hosts measured, not {written.get('sides')}")
    print("PASS: one and here measured and brought back, gone unreachable, busy and here refused under the "
          "run lock, exit 4 with its reasons, a matrix of the two")
    return 0


if __name__ == "__main__":
    sys.exit(main())
