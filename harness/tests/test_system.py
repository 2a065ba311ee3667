"""The journal, restore and the run lock, on fake paths (no real system change)."""
import json
import os

import pytest

from pageladder import system


@pytest.fixture
def journal(tmp_path, monkeypatch):
    monkeypatch.setenv("PAGELADDER_JOURNAL", str(tmp_path / "journal.jsonl"))
    monkeypatch.setattr(system, "RUN_DIR", tmp_path / "run")
    return tmp_path / "journal.jsonl"


def test_restore_replays_pending_changes_newest_first_and_nothing_else(tmp_path, journal):
    sysctl = tmp_path / "page-cluster"
    sysctl.write_text("0")
    ours = tmp_path / "pageladder-123-0"
    ours.mkdir()
    theirs = tmp_path / "system.slice"
    theirs.mkdir()
    settled = tmp_path / "settled"
    settled.write_text("changed")
    system.journal_change("sysctl", sysctl, "3")
    system.journal_change("cgroup", ours)
    system.journal_change("cgroup", theirs)  # not named by us: must survive
    done = system.journal_change("sysctl", settled, "original")
    system.journal_undone(done)
    undone = system.restore()
    assert [e["kind"] for e in undone] == ["cgroup", "cgroup", "sysctl"]
    assert sysctl.read_text() == "3"
    assert not ours.exists()
    assert theirs.exists()
    assert settled.read_text() == "changed"
    assert not journal.exists()  # everything settled
    assert system.restore() == []


def test_a_line_cut_short_by_a_crash_stops_restore_and_changes_nothing(tmp_path, journal):
    sysctl = tmp_path / "swappiness"
    sysctl.write_text("10")
    system.journal_change("sysctl", sysctl, "60")
    with open(journal, "a") as f:
        f.write('{"format":1,"id":"123","kind":"sysc')
    before = journal.read_bytes()
    with pytest.raises(system.JournalError, match="line 2: the last line has no newline"):
        system.restore()
    assert sysctl.read_text() == "10"  # not undone half-way
    assert journal.read_bytes() == before


def test_the_journal_format_matches_the_benchmarks(journal):
    entry_id = system.journal_change("cgroup", "/x/pageladder-1-0")
    line = json.loads(journal.read_text().splitlines()[0])
    assert list(line) == ["format", "id", "pid", "kind", "path", "old"] and line["id"] == entry_id
    assert line["format"] == 1 and line["pid"] == os.getpid()


def test_a_second_run_is_refused_while_the_first_holds_the_lock(journal):
    with system.run_lock():
        with pytest.raises(system.SystemChangeError, match=f"another pageladder run \\(pid {os.getpid()}\\)"):
            with system.run_lock():
                pass
    with system.run_lock():  # free again afterwards
        pass


def test_a_change_that_fails_is_undone_and_settled(tmp_path, journal):
    sysctl = tmp_path / "knob"
    sysctl.write_text("1")
    with pytest.raises(RuntimeError):
        with system._change("sysctl", sysctl, "1"):
            sysctl.write_text("2")
            raise RuntimeError("boom")
    assert sysctl.read_text() == "1"
    assert system.pending_changes() == []


def test_swap_file_refuses_tmpfs_with_the_reason():
    if "/dev/shm" not in open("/proc/mounts").read():
        pytest.skip("no /dev/shm")
    with pytest.raises(system.SystemChangeError, match="tmpfs, which cannot hold a swap file"):
        with system.swap_file("/dev/shm", 1 << 20):
            pass


def test_swap_file_refuses_a_missing_directory():
    with pytest.raises(system.SystemChangeError, match="does not exist"):
        with system.swap_file("/nonexistent/pageladder", 1 << 20):
            pass
