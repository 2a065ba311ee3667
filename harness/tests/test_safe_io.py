"""Files read back as data, names from files as paths, results written whole, files from a guest or a
fleet host as regular files only (pageladder.safe_io)."""
import io
import os
import tarfile

import pytest

from pageladder import safe_io


def test_a_name_from_a_file_must_be_plain():
    for good in ("20261207-020000-host-6.18.44+", "compare-a-vs-b", "zen5.lab:2"):
        assert safe_io.safe_name(good) == good
    for bad in ("", ".", "..", "../x", "a/b", "/abs", "-rf", ".hidden", "a\nb", "a b", 7, "x" * 300):
        with pytest.raises(ValueError):
            safe_io.safe_name(bad)


def test_child_and_inside_keep_a_path_in_its_folder(tmp_path):
    assert safe_io.child(tmp_path, "run") == tmp_path / "run"
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(ValueError, match="outside"):
        safe_io.child(tmp_path, "link")
    with pytest.raises(ValueError):
        safe_io.inside(tmp_path, tmp_path / ".." / "x")


def test_an_atomic_write_replaces_a_planted_symlink_rather_than_following_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "report.md").symlink_to(victim)
    safe_io.write_text_atomically(tmp_path / "report.md", "new", sync=True)
    assert victim.read_text() == "keep"
    assert not (tmp_path / "report.md").is_symlink() and (tmp_path / "report.md").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "run.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with safe_io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_new_folder_never_reuses_an_existing_one(tmp_path):
    first = safe_io.new_folder(tmp_path, "compare-a-vs-b")
    second = safe_io.new_folder(tmp_path, "compare-a-vs-b")
    assert (first.name, second.name) == ("compare-a-vs-b", "compare-a-vs-b-2")


def test_copy_regular_tree_copies_files_only(tmp_path):
    src = tmp_path / "src"
    (src / "logs").mkdir(parents=True)
    (src / "logs" / "a.log").write_text("log")
    (src / "link").symlink_to("/etc/passwd")
    os.mkfifo(src / "fifo")
    (src / "suid").write_text("x")
    (src / "suid").chmod(0o4755)
    (tmp_path / "dst").mkdir()
    left = safe_io.copy_regular_tree(src, tmp_path / "dst")
    assert sorted(os.path.basename(p) for p in left) == ["fifo", "link"]
    assert (tmp_path / "dst" / "logs" / "a.log").read_text() == "log"
    assert (tmp_path / "dst" / "suid").stat().st_mode & 0o7777 == 0o644
    assert not (tmp_path / "dst" / "link").exists()


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _member(name, kind=tarfile.REGTYPE, data=b"", **extra):
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, len(data) if kind == tarfile.REGTYPE else 0
    for k, v in extra.items():
        setattr(info, k, v)
    return info, data if kind == tarfile.REGTYPE else None


def test_extract_regular_leaves_out_links_devices_and_escapes(tmp_path):
    archive = tmp_path / "run.tar.gz"
    _tar(archive, [_member("r1", tarfile.DIRTYPE), _member("r1/run.json", data=b"{}", mode=0o4755),
                   _member("r1/evil", tarfile.SYMTYPE, linkname="/etc/passwd"),
                   _member("r1/dev", tarfile.CHRTYPE, devmajor=1, devminor=3),
                   _member("r1/../../escaped", data=b"x"), _member("/abs", data=b"x"), _member("other/x", data=b"x")])
    (tmp_path / "out").mkdir()
    root, left = safe_io.extract_regular(archive, tmp_path / "out", "r1")
    assert (root / "run.json").read_bytes() == b"{}" and (root / "run.json").stat().st_mode & 0o7777 == 0o644
    assert sorted(left) == sorted(["r1/evil", "r1/dev", "r1/../../escaped", "/abs", "other/x"])
    assert sorted(p.name for p in root.iterdir()) == ["run.json"]
    assert not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("content, words", [
    (b"\xff", "not UTF-8"), (b"[" * 100000, "nested too deeply"), (b"[1]", "not dict"), (b"{", "not valid JSON")],
    ids=["not UTF-8", "nested", "a list", "cut short"])
def test_load_json_says_in_one_line_what_is_wrong(tmp_path, content, words):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(safe_io.DataFileError) as caught:
        safe_io.load_json(path)
    assert str(caught.value).startswith(str(path)) and words in str(caught.value)


def test_load_json_refuses_a_file_too_large(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2048 + b"{}")
    with pytest.raises(safe_io.DataFileError, match="at most"):
        safe_io.load_json(path, max_bytes=1024)


def test_load_json_never_blocks_on_a_fifo_or_follows_a_link(tmp_path):
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(safe_io.DataFileError, match="not a regular file"):
        safe_io.load_json(tmp_path / "fifo.json")
    (tmp_path / "target.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "target.json")
    with pytest.raises(safe_io.DataFileError, match="symbolic link"):
        safe_io.load_json(tmp_path / "link.json")
