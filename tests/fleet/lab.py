"""What the fleet tests share: a lab on this machine's loopback (SSH keys, an SSH server of the
test's own, free and closed ports), the fleet run as `make fleet` runs it, and its verdicts.
Everything lives in the test's temporary folder and goes with it; a server dies with the test,
even SIGKILLed."""
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import SKIP, fail  # noqa: E402,F401  (the fleet tests import both from here)
PR_SET_PDEATHSIG = 1


def free_port():
    """A loopback port nobody listens on (also what a host that does not answer is given)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def ssh_key(folder, name):
    """An ed25519 key pair folder/name, folder/name.pub."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    return folder / name


def wait_for_port(port, seconds, why):
    """Waits until something listens on 127.0.0.1:port; else fails with why() (read then)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    fail(f"nothing listened on 127.0.0.1:{port} within {seconds} s: {why()}")


@contextlib.contextmanager
def ssh_server(folder, port, client_key):
    """sshd on 127.0.0.1:port, key login for root with client_key."""
    host_key = ssh_key(folder, "host")
    shutil.copy(f"{client_key}.pub", folder / "authorized_keys")
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {folder / 'sshd.pid'}\n")
    privsep = Path("/run/sshd")  # sshd's privilege separation wants it; removed if made here
    made = not privsep.exists()
    privsep.mkdir(exist_ok=True)
    server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(folder / "sshd_config")],
                              stderr=open(folder / "sshd.log", "w"), preexec_fn=die_with_parent)
    try:
        wait_for_port(port, 10, lambda: f"sshd said {(folder / 'sshd.log').read_text()[-300:]!r}")
        yield
    finally:
        server.kill()
        server.wait()
        if made:
            with contextlib.suppress(OSError):
                privsep.rmdir()


def ssh_vars(client_key):
    """[all:vars] of an inventory whose hosts are reached with client_key."""
    return ("ansible_user=root\n"
            f"ansible_ssh_private_key_file={client_key}\nansible_python_interpreter=/usr/bin/python3\n"
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
            # No master connection kept open after the play: nothing of the test's outlives it.
            "ansible_ssh_args='-o ControlMaster=no'\n")


def fleet(source, python, folder, *args, inventory=None, results=None, bench_vars=("QUICK=1", "ONLY=minor_fault"),
          prefix=(), env=None, timeout=1800, remote=None):
    """fleet/fleet.py over `inventory` (folder/inventory), into `results` (folder/results),
    checkouts under `remote` (folder/remote); `prefix` runs it through another command (setpriv).
    On a time-out the whole process group goes (ansible-playbook and the hosts' jobs with it)."""
    cmd = [*prefix, python, str(Path(source) / "fleet" / "fleet.py"), "--inventory", str(inventory or folder / "inventory"),
           "--results", str(results or folder / "results"), "--remote-dir", str(remote or folder / "remote"),
           "--min-free-mib", "100", *[f"--bench-var={v}" for v in bench_vars], *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=env)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        print(out[-3000:])
        fail(f"make fleet ran past {timeout} s")
    return subprocess.CompletedProcess(cmd, proc.returncode, out)


def fleet_hosts(fleet_dir):
    return json.loads((Path(fleet_dir) / "fleet.json").read_text())["hosts"]


def unreachable_gone(done, folder):
    """A fleet run whose host `gone` (a closed port) never answered: exit 4, `gone` unreachable.
    Returns (its fleet folder, its hosts)."""
    print(done.stdout[-4000:])
    if done.returncode != 4:
        fail(f"a fleet with an unreachable host exits 4, not {done.returncode}")
    fleet_dir = next((Path(folder) / "results").glob("fleet-*"))
    hosts = fleet_hosts(fleet_dir)
    if hosts["gone"]["status"] != "unreachable":
        fail(f"gone: {hosts['gone']}")
    return fleet_dir, hosts


def compare_fleet(source, python, fleet_dir, out, *args):
    """make compare FLEET=fleet_dir into out; returns (the process, matrix.json or {})."""
    done = subprocess.run([python, "-m", "pageladder", "compare", "--fleet", str(fleet_dir), "--results", str(out),
                           *args], cwd=Path(source) / "harness", env={**__import__("os").environ, "MPLBACKEND": "Agg"},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    found = list(Path(out).rglob("matrix.json"))
    return done, (json.loads(found[0].read_text()) if found else {})
