"""Files read back are data, files written appear whole: the one place that reads a JSON file the
suite did not just write, turns a name read from a file into a path, and writes a result.

- load_json: one line naming the file for whatever is wrong with it (not UTF-8, not JSON, too
  deep, too large, not a regular file, the wrong type at the top), never a traceback.
- safe_name / child: a name read from a file (a run id, a host, a package's field) becomes a path
  only when it is one plain name, and the path it makes lies inside its folder.
- write_*_atomically / atomic_path: a unique temporary name in the same folder, then a rename;
  run.json is also synced. A reader never sees half a file, two writers never share a temporary
  name, and a symlink planted at the final name is replaced, not followed.
- copy_regular_tree / extract_regular: files that come from a guest or a fleet host arrive as
  regular files and folders only (no symlink followed or made, no device node, no setuid bit).
Standard library only (restore and the input checks import it before `make deps`).
"""
import contextlib
import json
import os
import re
import stat
import tarfile
import tempfile
from pathlib import Path

MAX_JSON_BYTES = 256 << 20
FILE_MODE, DIR_MODE = 0o644, 0o755
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~@:,=-]{0,199}")


class DataFileError(ValueError):
    """A file that cannot be read as what it should be; the message names it and why."""


def load_json(path, what="JSON", expect=dict, max_bytes=MAX_JSON_BYTES):
    """The file's JSON value, which must be of type expect; DataFileError says what is wrong."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        why = "a symbolic link" if e.errno == 40 else e.strerror
        raise DataFileError(f"{path}: cannot read {what}: {why}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise DataFileError(f"{path}: {what} is not a regular file")
        if st.st_size > max_bytes:
            raise DataFileError(f"{path}: {what} of {st.st_size} bytes (at most {max_bytes})")
        data = f.read(max_bytes + 1)
    return parse_json(data, str(path), expect)


def parse_json(data, what, expect=dict):
    """bytes or text -> its JSON value of type expect; DataFileError('<what>: why') otherwise."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text)
    except UnicodeDecodeError as e:
        raise DataFileError(f"{what}: not UTF-8 text (byte {e.start + 1})") from None
    except json.JSONDecodeError as e:
        raise DataFileError(f"{what}: not valid JSON ({e.msg}, line {e.lineno})") from None
    except RecursionError:
        raise DataFileError(f"{what}: nested too deeply") from None
    except ValueError as e:  # numbers too long to read, and the like
        raise DataFileError(f"{what}: cannot be read: {e}") from None
    if expect is not None and not isinstance(value, expect):
        raise DataFileError(f"{what}: a JSON {type(value).__name__}, not {expect.__name__}")
    return value


def safe_name(value, what="name"):
    """value, when it is one plain file name (letters, digits, ._+~@:,=- and no leading dot or
    dash, at most 200 characters); ValueError otherwise."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a plain name (letters, digits and ._+~@:,=-, "
                         f"not starting with '.' or '-')")
    return value


def inside(root, path):
    """path, resolved, when it lies inside root (resolved); ValueError otherwise."""
    root_real, real = Path(os.path.realpath(root)), Path(os.path.realpath(path))
    if real != root_real and root_real not in real.parents:
        raise ValueError(f"{path} lies outside {root}")
    return real


def child(root, name, what="name"):
    """root/name for a name read from a file: a plain name, and the result inside root."""
    path = Path(root) / safe_name(name, what)
    inside(root, path)
    return path


def _fsync_dir(folder):
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _temporary_beside(path, sync):
    """Yields (descriptor, name) of a new temporary file beside path; on a clean exit it gets the
    suite's mode through its descriptor, is synced if asked, and becomes path (a rename); on an
    error it is removed. The one writer of every result file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        yield fd, Path(tmp)
        os.fchmod(fd, FILE_MODE)
        if sync:
            os.fsync(fd)
        os.replace(tmp, path)
        if sync:
            _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, sync=False):
    """Yields a unique temporary path beside path; on a clean exit it becomes path (a rename),
    on an error it is removed. For writers that want a file name (matplotlib's savefig)."""
    with _temporary_beside(path, sync) as (_, tmp):
        yield tmp


def write_bytes_atomically(path, data, sync=False):
    """data as path, written whole through the temporary file's own descriptor."""
    with _temporary_beside(path, sync) as (fd, _):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def write_text_atomically(path, text, sync=False):
    write_bytes_atomically(path, text.encode("utf-8"), sync=sync)


def write_json_atomically(path, value, sync=False, indent=1):
    write_text_atomically(path, json.dumps(value, indent=indent) + "\n", sync=sync)


def symlink_atomically(target, link):
    """link -> target, replacing whatever link was, through a unique temporary name."""
    link = Path(link)
    for attempt in range(100):
        tmp = link.parent / f".{link.name}.{os.getpid()}.{attempt}.tmp"
        try:
            os.symlink(target, tmp)
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"cannot make a temporary link beside {link}")
    os.replace(tmp, link)


def new_folder(parent, name):
    """parent/name, made now; when it exists, parent/name-2, -3 ... (never an existing folder)."""
    parent = Path(parent)
    for n in range(1, 1000):
        path = parent / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir(mode=DIR_MODE)
            return path
        except FileExistsError:
            continue
    raise OSError(f"no free name for {name} in {parent}")


def _new_file(dest, read):
    """dest made new (never over anything, never through a link), mode 0644, filled by read(n)
    until it returns nothing."""
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(out, "wb") as f:
        while chunk := read(1 << 20):
            f.write(chunk)


def copy_regular_tree(source, dest):
    """Copies what the folder source holds into dest (an empty folder), its regular files and
    folders only: a symlink, device node, FIFO or socket is left behind, never followed; modes are
    the suite's own (0644, 0755), so no setuid bit comes along. Returns what was left behind."""
    source, dest = Path(source), Path(dest)
    st = os.lstat(source)
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{source} is not a folder")
    left = []
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        target = dest / entry.name
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            target.mkdir(mode=DIR_MODE)
            left += copy_regular_tree(entry.path, target)
        elif stat.S_ISREG(mode):
            # Opened without following a link or blocking on a FIFO swapped in since the scan,
            # and copied only if what was opened is still a regular file.
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    _new_file(target, lambda n: os.read(fd, n))
                else:
                    left.append(entry.path)
            finally:
                os.close(fd)
        else:
            left.append(entry.path)
    return left


def extract_regular(archive, dest, top):
    """Unpacks a .tar.gz whose members all lie under the folder top into dest/top (which must
    not exist): regular files and folders only, names without '..' or a leading '/'; anything
    else is left out. Returns (the folder made, the members left out)."""
    safe_name(top, "the archive's folder")
    root = Path(dest) / top
    left = []
    with tarfile.open(archive, "r:gz") as tar:
        root.mkdir(mode=DIR_MODE)
        for member in tar:
            parts = Path(member.name).parts
            if not parts or parts[0] != top or member.name.startswith("/") or ".." in parts:
                left.append(member.name)
                continue
            target = Path(dest).joinpath(*parts)
            if member.isdir():
                target.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            elif member.isreg():
                inside(root, target.parent)
                target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                with tar.extractfile(member) as f:
                    _new_file(target, f.read)
            else:
                left.append(member.name)
    return root, left
