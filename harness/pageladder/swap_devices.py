"""Temporary swap for the swap rows, made and removed around a phase: a zram device (a free one,
or hot-added) and a swap file on persistent storage, each at the highest priority so the test's
pages land on it. Each is journaled before it is made and undone on every exit path (system.py's
journal; `make restore` after a crash)."""
import contextlib
import itertools
import os
import stat as stat_module
import subprocess
from pathlib import Path

from pageladder import system


def _mkswap_swapon(device):
    for cmd in (["mkswap", device], ["swapon", "-p", str(system.SWAP_PRIORITY), device]):
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except FileNotFoundError:
            raise system.SystemChangeError(f"{cmd[0]} is not installed (Debian packages util-linux, mount)") from None
        if r.returncode != 0:
            raise system.SystemChangeError(f"{' '.join(cmd)} failed: {r.stdout.strip()}")


def _mem_available():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _hot_added_zram(size_bytes):
    """Adds a zram device, journaled before it is made: the kernel gives the lowest free number,
    so that one is journaled first and the entry moved if the kernel chose another. Returns
    (its name, its journal entry's id)."""
    present = {p.name for p in Path("/sys/block").glob("zram*")}
    expected = next(f"zram{n}" for n in itertools.count() if f"zram{n}" not in present)
    entry_id = system.journal_change("zram", f"/dev/{expected}", "hot_added", str(size_bytes))
    try:
        name = "zram" + Path("/sys/class/zram-control/hot_add").read_text().strip()
    except OSError as e:
        system.journal_undone(entry_id)
        raise system.SystemChangeError(f"cannot add a zram device: {e.strerror}") from e
    if name != expected:
        moved = system.journal_change("zram", f"/dev/{name}", "hot_added", str(size_bytes))
        system.journal_undone(entry_id)
        entry_id = moved
    return name, entry_id


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
            raise system.SystemChangeError("no zram support (the zram module is not available)")
    if _mem_available() < 3 * size_bytes:
        raise system.SystemChangeError(f"too little free memory for a {size_bytes >> 20} MiB zram device")
    active = system.active_swaps()
    free = [d for d in sorted(Path("/sys/block").glob("zram*"))
            if (d / "disksize").read_text().strip() == "0" and f"/dev/{d.name}" not in active]
    if free:
        name, how = free[0].name, "existing"
        entry_id = system.journal_change("zram", f"/dev/{name}", how, str(size_bytes))
    else:
        (name, entry_id), how = _hot_added_zram(size_bytes), "hot_added"
    device = f"/dev/{name}"
    with system._undone_on_exit(entry_id, "zram", device, how, str(size_bytes)):
        try:
            system._write(f"/sys/block/{name}/disksize", str(size_bytes))
        except OSError as e:
            raise system.SystemChangeError(f"cannot size {device}: {e.strerror}") from e
        _mkswap_swapon(device)
        yield device


def _filesystem_of(directory):
    """(fstype, mount point) of the mount holding directory: metadata's one reader of mountinfo."""
    from pageladder import metadata  # imported where used, as in system.active_swaps
    mount = metadata.mount_of(os.path.realpath(directory)) or {}
    return mount.get("fstype", ""), mount.get("target", "")


@contextlib.contextmanager
def swap_file(directory, size_bytes):
    """A swap file in directory, written with zeros (fallocate is not safe on every filesystem).
    The folder is resolved first (the path journaled is the one swapon reports), and one that
    others may write without the sticky bit is refused (they could swap the file under root)."""
    directory = Path(os.path.realpath(directory))
    if not directory.is_dir():
        raise system.SystemChangeError(f"SWAP_DIR {directory} does not exist")
    st = directory.stat()
    if st.st_uid not in (0, os.geteuid()):
        raise system.SystemChangeError(f"SWAP_DIR {directory} belongs to uid {st.st_uid}: it could swap the file "
                                f"for a link under root's mkswap")
    if st.st_mode & 0o022 and not st.st_mode & stat_module.S_ISVTX:
        raise system.SystemChangeError(f"SWAP_DIR {directory} is writable by others without the sticky bit")
    fstype, _ = _filesystem_of(directory)
    if fstype in ("tmpfs", "ramfs", "overlay", "nfs", "nfs4", "fuse", "squashfs", "zfs", "btrfs"):
        extra = " (it would need a NOCOW file)" if fstype == "btrfs" else ""
        raise system.SystemChangeError(f"SWAP_DIR {directory} is on {fstype}, which cannot hold a swap "
                                f"file here{extra}")
    st = os.statvfs(directory)
    if st.f_bavail * st.f_frsize < size_bytes + (256 << 20):
        raise system.SystemChangeError(f"SWAP_DIR {directory} has too little free space for a "
                                f"{size_bytes >> 20} MiB swap file")
    path = directory / f"pageladder-swap-{os.getpid()}"
    entry_id = system.journal_change("swapfile", path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        system.journal_undone(entry_id)  # nothing made: a file already there is not ours to remove
        raise system.SystemChangeError(f"cannot make a swap file {path}: {e.strerror}") from e
    with system._undone_on_exit(entry_id, "swapfile", path):
        try:
            with os.fdopen(fd, "wb") as f:
                block = bytes(1 << 20)
                for _ in range(size_bytes >> 20):
                    f.write(block)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise system.SystemChangeError(f"cannot write a swap file in {directory}: {e.strerror}") from e
        _mkswap_swapon(str(path))
        yield str(path)
