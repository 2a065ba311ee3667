"""A guest as a lab machine: `python3 -m guests serve --kernel K --ssh-port P --authorized-keys F`
boots the kernel and runs an SSH server in it, reachable on 127.0.0.1:P only, until stopped
(Ctrl-C or SIGTERM). `make fleet` then treats it as any other host of an inventory: it sends
the checkout, builds it, runs `make bench` there and brings the run back, on another kernel.

The guest is the one `make bench KERNEL=` boots (guests/bench.py, init.sh): the host's root
read-only over 9p, its own disk on /var/tmp. What makes it a lab host: a network card on qemu's
user-mode network, restricted (the guest reaches nothing; only the forwarded port reaches it),
a writable home for root (Ansible's temporary files), and the host's own sshd run in it with a
configuration of this guest's: a host key made for it, key login for root from the keys given,
and PAGELADDER_GUEST set in every session, so that a run made there records its accelerator and
shape (settings.guest) like a run of `make bench KERNEL=`."""
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from guests.machine import GuestError

SSHD = "/usr/sbin/sshd"
GUEST_SSH_PORT = 22
# The modules a network card needs beyond those of every guest (initramfs.MODULES).
NETWORK_MODULES = (("virtio_net", "", True),)


def network_devices(host_port):
    """qemu's arguments for a network card whose only way in is host_port on the host's loopback."""
    return ["-netdev", f"user,id=lab,restrict=on,hostfwd=tcp:127.0.0.1:{host_port}-:{GUEST_SSH_PORT}",
            "-device", "virtio-net-pci,netdev=lab"]


def sshd_command(share, authorized_keys):
    """Writes the guest's sshd configuration and host key into the staging folder; returns the
    command the guest's init runs (in the chroot of the host's root)."""
    keys = Path(authorized_keys)
    if not keys.is_file() or not keys.read_text().strip():
        raise GuestError(f"--authorized-keys {authorized_keys}: no such file, or no key in it")
    if not Path(SSHD).exists() or not shutil.which("ssh-keygen"):
        raise GuestError(f"{SSHD} or ssh-keygen is not installed (make deps FLEET_DEPS=1 installs openssh-server)")
    shutil.copyfile(keys, share / "authorized_keys")
    made = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pageladder-guest",
                           "-f", str(share / "host_key")], capture_output=True, text=True)
    if made.returncode != 0:
        raise GuestError(f"ssh-keygen failed: {made.stderr.strip()[:200]}")
    (share / "sshd_config").write_text(
        f"Port {GUEST_SSH_PORT}\nHostKey {share / 'host_key'}\n"
        f"AuthorizedKeysFile {share / 'authorized_keys'}\nPermitRootLogin prohibit-password\nAllowUsers root\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        # The staging folder's files are the host's, as 9p shows them: not root's own mode bits.
        "StrictModes no\nPidFile none\nSubsystem sftp internal-sftp\n"
        # Quiet on the console: not a line per connection (the readiness probe's included).
        "LogLevel ERROR\n"
        f"SetEnv PAGELADDER_GUEST={share / 'guest.json'}\n")
    # /run is the guest's own tmpfs: sshd's privilege separation folder is made there.
    # The configuration's path is an argument of the shell ($1), never part of its text.
    return ["/bin/sh", "-c", f'mkdir -p /run/sshd && exec {SSHD} -D -e -f "$1"', "sshd", str(share / "sshd_config")]


def answers_ssh(port, timeout=1.0):
    """Whether an SSH server answers on 127.0.0.1:port (qemu accepts the connection at once;
    only the guest's sshd sends the banner)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            if not s.recv(8).startswith(b"SSH-"):
                return False
            # Identified in turn, so that sshd takes the probe for a client that left, not an error.
            s.sendall(b"SSH-2.0-pageladder-probe\r\n")
            return True
    except OSError:
        return False


def announce_when_ready(port, say, stopped, interval=1.0):
    """A thread that says once, when the guest's sshd answers, how to reach it. Each probe waits
    long enough for an emulated sshd's banner: one that gave up early would be an error on the
    guest's console."""
    def wait():
        while not stopped.is_set():
            if answers_ssh(port, timeout=10.0):
                say(f"the guest answers SSH on 127.0.0.1:{port} (ssh -p {port} root@127.0.0.1); "
                    f"Ctrl-C or SIGTERM stops it")
                return
            time.sleep(interval)
    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def port_is_free(port):
    """Whether qemu can listen on 127.0.0.1:port (it reuses an address in TIME_WAIT, so this does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
