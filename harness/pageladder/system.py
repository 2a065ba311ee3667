"""System changes around a run: temporary swap (zram, a swap file), the run lock and the journal.

Every change is appended to the journal (/run/pageladder/journal.jsonl, shared with the C++
benchmarks, which journal their cgroups and sysctls there) before it is made, and marked undone
after it is undone. A normal exit, an error, Ctrl-C and SIGTERM undo it at once; after SIGKILL or
a crash, `make restore` and the next `make bench` replay what the journal lists without an
"undone" line, and nothing else. /run is a tmpfs: a reboot clears the journal together with
everything it could list (zram, swapon, sysctls and cgroups do not survive a reboot; a swap file
left on disk is named in the journal's directory and removed by restore before reboot).
"""
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

RUN_DIR = Path(os.environ.get("PAGELADDER_RUN_DIR", "/run/pageladder"))
SWAP_PRIORITY = 32767
CGROUP_PREFIX = "pageladder-"


class SystemChangeError(Exception):
    """A change that cannot be made here; the message is the reason to show and skip with."""


def journal_path():
    return Path(os.environ.get("PAGELADDER_JOURNAL", RUN_DIR / "journal.jsonl"))


def _append(entry):
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def journal_change(kind, path, old=""):
    entry_id = f"{time.time_ns()}{os.getpid()}"
    _append({"id": entry_id, "pid": os.getpid(), "kind": kind, "path": str(path), "old": old})
    return entry_id


def journal_undone(entry_id):
    _append({"undone": entry_id})


def pending_changes():
    """Journal entries not marked undone, oldest first."""
    try:
        lines = journal_path().read_text().splitlines()
    except FileNotFoundError:
        return []
    entries, undone = [], set()
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if "undone" in item:
            undone.add(str(item["undone"]))
        elif "id" in item:
            entries.append(item)
    return [e for e in entries if str(e["id"]) not in undone]


@contextlib.contextmanager
def run_lock():
    """Held for the whole of a run that may change the system; a second run is refused."""
    RUN_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = RUN_DIR / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise SystemChangeError(
                f"another pageladder run (pid {holder}) is making system changes; wait for it to "
                f"finish, or run `make restore` if it died") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _write(path, value):
    with open(path, "w") as f:
        f.write(value)


def _active_swaps():
    try:
        lines = Path("/proc/swaps").read_text().splitlines()[1:]
    except OSError:
        return {}
    return {line.split()[0]: line.split() for line in lines if line.split()}


def _swapoff(device):
    if device in _active_swaps():
        with contextlib.suppress(FileNotFoundError):  # no swapoff: nothing we could have swapon'd
            subprocess.run(["swapoff", device], check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


def _undo(entry):
    kind, path = entry["kind"], entry["path"]
    if kind == "sysctl":
        with contextlib.suppress(OSError):
            _write(path, entry["old"])
    elif kind == "cgroup":
        if not Path(path).name.startswith(CGROUP_PREFIX):
            return  # never touch a cgroup we did not name
        for _ in range(400):
            try:
                pids = [int(p) for p in Path(path, "cgroup.procs").read_text().split()]
            except OSError:
                pids = []
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.005)
    elif kind == "swapfile":
        _swapoff(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    elif kind == "zram":
        _swapoff(path)
        name = Path(path).name
        with contextlib.suppress(OSError):
            _write(f"/sys/block/{name}/reset", "1")
        if entry.get("old") == "hot_added":
            with contextlib.suppress(OSError):
                _write("/sys/class/zram-control/hot_remove", name[len("zram"):])


def restore(out=None):
    """Undoes every pending journaled change, newest first. Returns the entries undone."""
    undone = []
    for entry in reversed(pending_changes()):
        _undo(entry)
        journal_undone(entry["id"])
        undone.append(entry)
        if out:
            print(f"pageladder: restored {entry['kind']} {entry['path']}", file=out)
    with contextlib.suppress(FileNotFoundError):
        if not pending_changes():
            journal_path().unlink()
    return undone


@contextlib.contextmanager
def _change(kind, path, old=""):
    """Journals a change, yields, and undoes it on every exit path."""
    entry = {"id": journal_change(kind, path, old), "kind": kind, "path": str(path), "old": old}
    try:
        yield
    finally:
        _undo(entry)
        journal_undone(entry["id"])


def _mkswap_swapon(device):
    for cmd in (["mkswap", device], ["swapon", "-p", str(SWAP_PRIORITY), device]):
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except FileNotFoundError:
            raise SystemChangeError(f"{cmd[0]} is not installed (Debian packages util-linux, mount)") from None
        if r.returncode != 0:
            raise SystemChangeError(f"{' '.join(cmd)} failed: {r.stdout.strip()}")


def _mem_available():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def zram_swap(size_bytes):
    """A zram swap device for the duration; a free existing device, or one hot-added."""
    if not Path("/sys/class/zram-control").exists() and not Path("/sys/block/zram0").exists():
        try:
            loaded = subprocess.run(["modprobe", "zram", "num_devices=0"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL).returncode == 0
        except FileNotFoundError:
            loaded = False
        if not loaded or not Path("/sys/class/zram-control").exists():
            raise SystemChangeError("no zram support (the zram module is not available)")
    if _mem_available() < 3 * size_bytes:
        raise SystemChangeError(f"too little free memory for a {size_bytes >> 20} MiB zram device")
    active = _active_swaps()
    free = [d for d in sorted(Path("/sys/block").glob("zram*"))
            if (d / "disksize").read_text().strip() == "0" and f"/dev/{d.name}" not in active]
    if free:
        name, how = free[0].name, "existing"
    else:
        try:
            name, how = "zram" + Path("/sys/class/zram-control/hot_add").read_text().strip(), "hot_added"
        except OSError as e:
            raise SystemChangeError(f"cannot add a zram device: {e.strerror}") from e
    device = f"/dev/{name}"
    with _change("zram", device, how):
        try:
            _write(f"/sys/block/{name}/disksize", str(size_bytes))
        except OSError as e:
            raise SystemChangeError(f"cannot size {device}: {e.strerror}") from e
        _mkswap_swapon(device)
        yield device


def _filesystem_of(directory):
    """(fstype, mount point) of the mount holding directory, from mountinfo."""
    best = ("", "")
    target = os.path.realpath(directory)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        mount_point = pre.split()[4].replace("\\040", " ")
        if (target == mount_point or target.startswith(mount_point.rstrip("/") + "/")) and \
                len(mount_point) >= len(best[1]):
            best = (post.split()[0], mount_point)
    return best


@contextlib.contextmanager
def swap_file(directory, size_bytes):
    """A swap file in directory, written with zeros (fallocate is not safe on every filesystem)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SystemChangeError(f"SWAP_DIR {directory} does not exist")
    fstype, _ = _filesystem_of(directory)
    if fstype in ("tmpfs", "ramfs", "overlay", "nfs", "nfs4", "fuse", "squashfs", "zfs", "btrfs"):
        extra = " (it would need a NOCOW file)" if fstype == "btrfs" else ""
        raise SystemChangeError(f"SWAP_DIR {directory} is on {fstype}, which cannot hold a swap "
                                f"file here{extra}")
    st = os.statvfs(directory)
    if st.f_bavail * st.f_frsize < size_bytes + (256 << 20):
        raise SystemChangeError(f"SWAP_DIR {directory} has too little free space for a "
                                f"{size_bytes >> 20} MiB swap file")
    path = directory / f"pageladder-swap-{os.getpid()}"
    with _change("swapfile", path):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                block = bytes(1 << 20)
                for _ in range(size_bytes >> 20):
                    f.write(block)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise SystemChangeError(f"cannot write a swap file in {directory}: {e.strerror}") from e
        _mkswap_swapon(str(path))
        yield str(path)


@contextlib.contextmanager
def terminate_as_interrupt():
    """SIGTERM and SIGHUP unwind like Ctrl-C, so every `finally` above undoes its change."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt()
    previous = {s: signal.signal(s, raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def is_root():
    return os.geteuid() == 0

