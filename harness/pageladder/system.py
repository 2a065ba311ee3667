"""System changes around a run: the journal, restore, the run lock and the knobs a side writes
(the temporary swap itself is made in swap_devices.py, journaled here).

Every change is appended to the journal (shared with the C++ benchmarks, which journal their
cgroups and sysctls there) before it is made, with the value it writes, and marked undone after
it is undone. A normal exit, an error, Ctrl-C and SIGTERM undo it at once; after SIGKILL or a
crash, `make restore` and the next `make bench` replay what the journal lists without an "undone"
marker, and nothing else: never a change whose process is still alive (a benchmark run by hand),
and never over a value that is no longer the suite's (someone changed it since: left, and said).
The journal's path, its format, and how each kind of change is undone are written down once, in
docs/journal.md; this module is its Python writer and its only reader. A journal restore cannot
read in full stops restore before it undoes anything (JournalError), never skipping a line.
"""
import contextlib
import fcntl
import itertools
import json
import os
import re
import signal
import stat as stat_module
import subprocess
import sys
import time
from pathlib import Path

RUN_DIR = Path(os.environ.get("PAGELADDER_RUN_DIR", "/run/pageladder"))
SWAP_PRIORITY = 32767
JOURNAL_FORMAT = 2
READABLE_FORMATS = (1, 2)  # format 1 lines (no "new") are still undone, without the value check
CHANGE_KINDS = ("sysctl", "cgroup", "swapfile", "zram")
CGROUP_PREFIX = "pageladder-"
CGROUP_REMOVE_ATTEMPTS = 400
CGROUP_REMOVE_PAUSE_S = 0.005

# The exact fields of the two kinds of journal line, in the order both writers emit them.
_CHANGE_FIELDS = {"format": int, "id": str, "pid": int, "kind": str, "path": str, "old": str, "new": str}
_CHANGE_FIELDS_V1 = {k: v for k, v in _CHANGE_FIELDS.items() if k != "new"}
_UNDONE_FIELDS = {"format": int, "undone": str}
_entry_counter = itertools.count()


class SystemChangeError(Exception):
    """A change that cannot be made here; the message is the reason to show and skip with."""


class UnsafeFolderError(SystemChangeError, OSError):
    """A folder root would read back from (the run folder, the journal's) that is not this
    user's own, is a symlink, or that others may write."""


class JournalError(Exception):
    """The journal holds a line restore cannot read, so nothing was undone; the message names the
    file, the line and what to undo by hand. Not a SystemChangeError: it is never a skip reason."""


def journal_path():
    """PAGELADDER_JOURNAL, else <PAGELADDER_RUN_DIR or /run/pageladder>/journal.jsonl."""
    return Path(os.environ.get("PAGELADDER_JOURNAL", RUN_DIR / "journal.jsonl"))


def _new_entry_id():
    return f"{os.getpid()}-{time.time_ns()}-{next(_entry_counter)}"


def private_folder(folder):
    """Makes folder (0700) if missing, and refuses (SystemChangeError) one that is not this
    user's own folder, is a symlink, or that others may write: what root reads back from it
    (the journal, the run lock) decides what root writes and removes later."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(folder)
    if not stat_module.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        what = "a symlink" if stat_module.S_ISLNK(st.st_mode) else \
            f"owned by uid {st.st_uid}, mode {stat_module.filemode(st.st_mode)}"
        raise UnsafeFolderError(f"{folder} is not this user's own private folder ({what}): remove it, "
                                f"or point PAGELADDER_RUN_DIR elsewhere")
    return folder


def _append(entry):
    """One line, written by one write() and synced, as docs/journal.md spells it."""
    try:
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        raise SystemChangeError(f"cannot journal {entry.get('path', '')!r}: it is not UTF-8 text") from None
    path = journal_path()
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        written = os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if written != len(line):
        raise OSError(f"short write to the journal {path}")


def journal_change(kind, path, old="", new=""):
    """Journals a change about to be made (old: what undoing writes back; new: what the change
    writes, which restore checks is still there); returns its id."""
    if kind not in CHANGE_KINDS:
        raise ValueError(f"unknown kind of change {kind!r}")
    if kind == "sysctl" and new == "":
        raise ValueError("a sysctl's change is journaled with the value it writes (restore checks it)")
    entry_id = _new_entry_id()
    _append({"format": JOURNAL_FORMAT, "id": entry_id, "pid": os.getpid(), "kind": kind,
             "path": str(path), "old": old, "new": new})
    return entry_id


def journal_undone(entry_id):
    _append({"format": JOURNAL_FORMAT, "undone": entry_id})


def _parse_line(text):
    """One journal line -> (change entry, None) or (None, undone id); ValueError says why not."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    if "format" not in item:
        raise ValueError('no "format" field: written by an older pageladder')
    if type(item["format"]) is not int or item["format"] not in READABLE_FORMATS:
        raise ValueError(f"journal format {item['format']!r}; this pageladder reads formats "
                         f"{', '.join(map(str, READABLE_FORMATS))}")
    fields = _UNDONE_FIELDS if "undone" in item else _CHANGE_FIELDS if item["format"] >= 2 else _CHANGE_FIELDS_V1
    if set(item) != set(fields):
        raise ValueError(f"fields {', '.join(sorted(item))}; expected {', '.join(fields)}")
    for name, expected in fields.items():
        if type(item[name]) is not expected:
            raise ValueError(f'"{name}" is not a {expected.__name__}')
    if "undone" in item:
        return None, item["undone"]
    if item["kind"] not in CHANGE_KINDS:
        raise ValueError(f"unknown kind {item['kind']!r}")
    if item["format"] >= 2 and not os.path.isabs(item["path"]):
        raise ValueError(f"the path {item['path']!r} is not absolute")
    return item, None


def _journal_lines():
    """[(line number, bytes, complete)]: complete is False for a last line with no newline."""
    try:
        fd = os.open(journal_path(), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return []
    except OSError as e:
        raise JournalError(f"cannot read the journal {journal_path()}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")  # only "\n" ends a line: JSON escapes it inside strings
    tail = lines.pop()         # b"" when the journal ends with a newline, as it should
    numbered = [(n, raw, True) for n, raw in enumerate(lines, 1)]
    return numbered + ([(len(lines) + 1, tail, False)] if tail else [])


def pending_changes():
    """Journal entries not marked undone, oldest first. Raises JournalError if any line cannot be
    read: a change that cannot be read cannot be undone, and is never skipped."""
    lines = _journal_lines()
    entries, undone, unreadable = [], set(), []
    for number, raw, complete in lines:
        try:
            text = raw.decode("utf-8")
            if not complete:
                raise ValueError("the last line has no newline: a write cut short")
            entry, undone_id = _parse_line(text)
        except UnicodeDecodeError as e:
            unreadable.append((number, raw, f"not UTF-8 text (byte {e.start + 1})"))
            continue
        except (ValueError, RecursionError) as e:
            unreadable.append((number, raw, str(e) if isinstance(e, ValueError) else "nested too deeply"))
            continue
        if entry:
            entries.append(entry)
        else:
            undone.add(undone_id)
    if unreadable:
        raise JournalError(_unreadable_message(lines, unreadable))
    return [e for e in entries if e["id"] not in undone]


def _shorten(raw, limit=160):
    """A line as text for a message: control characters escaped, cut to limit characters."""
    text = raw.decode("utf-8", errors="backslashreplace")
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def undo_by_hand(kind, path, old):
    """What undoing one change takes, in words a root shell can follow (docs/journal.md)."""
    if kind == "sysctl":
        return f"write back {json.dumps(old, ensure_ascii=False)} to {path}"
    if kind == "cgroup":
        if not Path(path).name.startswith(CGROUP_PREFIX):
            return f"leave {path} alone (not a pageladder- cgroup)"
        return f"kill the processes listed in {path}/cgroup.procs, then rmdir {path}"
    if kind == "swapfile":
        return f"swapoff {path} (if active), then rm {path}"
    if kind == "zram":
        name = Path(path).name
        steps = f"swapoff {path} (if active), then write 1 to /sys/block/{name}/reset"
        if old == "hot_added":
            steps += f" and {name[len('zram'):]} to /sys/class/zram-control/hot_remove"
        return steps
    return f"undo this {kind!r} change to {path}"


def _unreadable_message(lines, unreadable):
    """Names the journal, the lines it cannot read, and everything still to undo by hand."""
    path = journal_path()
    shown = unreadable[:5]
    out = [f"cannot read the journal {path}: "
           f"{len(unreadable)} line(s) restore cannot read, so it undid nothing:"]
    for number, raw, why in shown:
        out += [f"  line {number}: {why}", f"    {_shorten(raw)}"]
    if len(unreadable) > len(shown):
        out.append(f"  ... and {len(unreadable) - len(shown)} more")
    # What the lines say, read leniently (any format) to help whoever undoes it by hand.
    changes, undone, understood = [], set(), set()
    for number, raw, _ in lines:
        try:
            item = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            continue
        if isinstance(item, dict) and "undone" in item:
            undone.add(str(item["undone"]))
            understood.add(number)
        elif isinstance(item, dict) and isinstance(item.get("kind"), str) and isinstance(item.get("path"), str):
            changes.append((number, item))
            understood.add(number)
    out.append("Undo by hand what the journal lists as not yet undone, then delete the journal "
               f"(rm {path}):")
    todo = [(number, f"{item['kind']}: " + undo_by_hand(
                item["kind"], item["path"], item["old"] if isinstance(item.get("old"), str) else ""))
            for number, item in changes if str(item.get("id")) not in undone]
    todo += [(number, "unreadable: undo whatever it names, if anything")
             for number, _, _ in unreadable if number not in understood]
    out += [f"  line {number}: {what}" for number, what in sorted(todo)]
    out.append("(docs/journal.md says how each kind of change is undone.)")
    return "\n".join(out)


@contextlib.contextmanager
def run_lock():
    """Held for the whole of a run that may change the system; a second run is refused."""
    private_folder(RUN_DIR)
    path = RUN_DIR / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise SystemChangeError(
                f"another pageladder run (pid {holder}) is running on this machine; wait for it to "
                f"finish, or run `make restore` if it died") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _write(path, value):
    with open(path, "w") as f:
        f.write(value)


def active_swaps():
    """The paths of the active swap devices and files, as metadata reads them (util-linux's
    swapon, else /proc/swaps): one reader of the machine's swap for the whole harness."""
    from pageladder import metadata
    devices, _ = metadata.swap_devices()
    return [d["name"] for d in devices if d.get("name")]


def _swapoff(device):
    """swapoff device if it is active; whether it is inactive afterwards."""
    if str(device) in active_swaps():
        with contextlib.suppress(FileNotFoundError):  # no swapoff: nothing we could have swapon'd
            subprocess.run(["swapoff", device], check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    return str(device) not in active_swaps()


def remove_cgroup(path):
    """The one cgroup rule of docs/journal.md (C++: remove_cgroup in system_changes.hpp): never a
    cgroup not named pageladder-*; kill what cgroup.procs lists, then rmdir, retrying. Returns
    whether the group is gone."""
    path = Path(path)
    if not path.name.startswith(CGROUP_PREFIX):
        return False
    for _ in range(CGROUP_REMOVE_ATTEMPTS):
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(CGROUP_REMOVE_PAUSE_S)
    return False


def _selected(path):
    """A sysctl or sysfs knob's value as restore compares it (a selector's chosen word)."""
    from pageladder import metadata  # imported where used, as in active_swaps
    return metadata.selected(Path(path).read_text().strip())


def _state_and_start(pid):
    """(state letter R, S, D, Z ..., start time in seconds since the epoch or None) of process
    pid from one read of /proc/<pid>/stat; (None, None) where it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None, None
    try:
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return fields[0], None


def owner_alive(entry):
    """Whether the process that made this change still runs (a benchmark run by hand, a run in
    progress): its changes are its own to undo. A pid reused since (a process started after the
    entry was written) is not the owner; nor is this process, whose leftovers restore settles."""
    pid = entry["pid"]
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    state, started = _state_and_start(pid)
    if state in ("Z", "X", None):  # exited (a zombie not yet reaped), or gone meanwhile
        return False
    try:
        written = int(entry["id"].split("-")[1]) / 1e9
    except (IndexError, ValueError):
        return True
    return started is None or started <= written + 2.0  # btime counts whole seconds


def _undo(entry):
    """Undoes one journaled change where it is still the suite's. Returns (settled, note):
    settled when the change is gone (undone now, undone before, or no longer the suite's, which
    the note says and which is left as it is); not settled when undoing failed (restore tries
    again next time)."""
    kind, path, new = entry["kind"], entry["path"], entry.get("new")
    if kind == "sysctl":
        try:
            current = _selected(path)
        except FileNotFoundError:
            return True, f"{path} is gone"
        except OSError as e:
            return False, f"cannot read {path}: {e.strerror}"
        if current == entry["old"]:
            return True, None  # already back (a benchmark's signal handler wrote it, say)
        if new is not None and current != new:
            return True, (f"left {path} at {current!r}: the suite wrote {new!r}, someone changed it since "
                          f"(it was {entry['old']!r} before the suite)")
        try:
            _write(path, entry["old"])
        except OSError as e:
            return False, f"cannot write {entry['old']!r} back to {path}: {e.strerror}"
        return True, None
    if kind == "cgroup":
        if not Path(path).name.startswith(CGROUP_PREFIX):
            return True, f"left {path}: not a {CGROUP_PREFIX} cgroup, never the suite's to remove"
        return (True, None) if remove_cgroup(path) else (False, f"{path} could not be removed")
    if kind == "swapfile":
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return True, None
        if not stat_module.S_ISREG(st.st_mode) or not Path(path).name.startswith("pageladder-swap-"):
            return True, f"left {path}: not the swap file the suite made"
        if not _swapoff(path):
            return False, f"swapoff {path} failed: the file stays"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return True, None
    if kind == "zram":
        name = Path(path).name
        if not re.fullmatch(r"zram\d+", name) or not Path(f"/sys/block/{name}").exists():
            return True, None
        with contextlib.suppress(OSError):
            size = Path(f"/sys/block/{name}/disksize").read_text().strip()
            if new and size not in (new, "0"):
                return True, f"left {path}: it is {size} bytes now, not the suite's {new} (someone else's)"
        if not _swapoff(path):
            return False, f"swapoff {path} failed: the device stays"
        try:
            _write(f"/sys/block/{name}/reset", "1")
            if entry.get("old") == "hot_added":
                _write("/sys/class/zram-control/hot_remove", name[len("zram"):])
        except OSError as e:
            return False, f"cannot reset {path}: {e.strerror}"
        return True, None
    return False, f"unknown kind {kind!r}"


def restore(out=None):
    """Undoes every pending journaled change whose process is gone, newest first, where the
    value is still the suite's. Returns the entries settled. Says what it left and why (to out,
    else to stderr)."""
    undone = []
    notices = out or sys.stderr
    for entry in reversed(pending_changes()):  # reads every line first: JournalError undoes nothing
        if owner_alive(entry):
            print(f"pageladder: left {entry['kind']} {entry['path']}: process {entry['pid']} that made it is "
                  f"still running", file=notices)
            continue
        settled, note = _undo(entry)
        if note:
            print(f"pageladder: {note}", file=notices)
        if not settled:
            print(f"pageladder: {entry['kind']} {entry['path']} is still pending (make restore tries again)",
                  file=notices)
            continue
        journal_undone(entry["id"])
        undone.append(entry)
        if out and not note:
            print(f"pageladder: restored {entry['kind']} {entry['path']}", file=out)
    with contextlib.suppress(FileNotFoundError):
        if not pending_changes():
            journal_path().unlink()
    return undone


@contextlib.contextmanager
def _undone_on_exit(entry_id, kind, path, old="", new=""):
    """Yields; on every exit path undoes the journaled change and settles it (left pending, to
    restore, when undoing fails)."""
    entry = {"id": entry_id, "kind": kind, "path": str(path), "old": old, "new": new, "pid": os.getpid()}
    try:
        yield
    finally:
        settled, note = _undo(entry)
        if note:
            print(f"pageladder: {note}", file=sys.stderr)
        if settled:
            journal_undone(entry_id)


@contextlib.contextmanager
def _change(kind, path, old="", new=""):
    """Journals a change, yields, and undoes it on every exit path."""
    with _undone_on_exit(journal_change(kind, path, old, new), kind, path, old, new):
        yield


@contextlib.contextmanager
def knob(path, value):
    """Writes value to a sysfs or procfs knob (journaled first, as a sysctl), yields, and writes
    the value it found back on every exit path; nothing when it already holds value.
    SystemChangeError when it cannot be read or written."""
    try:
        old = _selected(path)
    except OSError as e:
        raise SystemChangeError(f"cannot read {path}: {e.strerror}") from e
    if old == value:
        yield
        return
    entry_id = journal_change("sysctl", path, old, value)
    with _undone_on_exit(entry_id, "sysctl", path, old, value):
        try:
            _write(path, value)
        except OSError as e:
            raise SystemChangeError(f"cannot write {value!r} to {path}: {e.strerror}") from e
        yield


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

