"""The journal, restore and the run lock, on fake paths (no real system change)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pageladder import swap_devices, system


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
    system.journal_change("sysctl", sysctl, "3", "0")
    system.journal_change("cgroup", ours)
    system.journal_change("cgroup", theirs)  # not named by us: must survive
    done = system.journal_change("sysctl", settled, "original", "changed")
    system.journal_undone(done)
    undone = system.restore()
    assert [e["kind"] for e in undone] == ["cgroup", "cgroup", "sysctl"]  # theirs settled, left alone
    assert sysctl.read_text() == "3"
    assert not ours.exists()
    assert theirs.exists()
    assert settled.read_text() == "changed"
    assert not journal.exists()  # everything settled
    assert system.restore() == []


def test_a_line_cut_short_by_a_crash_stops_restore_and_changes_nothing(tmp_path, journal):
    sysctl = tmp_path / "swappiness"
    sysctl.write_text("10")
    system.journal_change("sysctl", sysctl, "60", "10")
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
    assert list(line) == ["format", "id", "pid", "kind", "path", "old", "new"] and line["id"] == entry_id
    assert line["format"] == 2 and line["pid"] == os.getpid()


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
        with system._change("sysctl", sysctl, "1", "2"):
            sysctl.write_text("2")
            raise RuntimeError("boom")
    assert sysctl.read_text() == "1"
    assert system.pending_changes() == []


def test_swap_file_refuses_tmpfs_with_the_reason():
    if "/dev/shm" not in open("/proc/mounts").read():
        pytest.skip("no /dev/shm")
    with pytest.raises(system.SystemChangeError, match="tmpfs, which cannot hold a swap file"):
        with swap_devices.swap_file("/dev/shm", 1 << 20):
            pass


def test_swap_file_refuses_a_missing_directory():
    with pytest.raises(system.SystemChangeError, match="does not exist"):
        with swap_devices.swap_file("/nonexistent/pageladder", 1 << 20):
            pass


# --- restore never clobbers ------------------------------------------------------------------


def test_restore_leaves_a_value_someone_changed_since_and_says_so(tmp_path, journal, capsys):
    knob = tmp_path / "nr_hugepages"
    knob.write_text("64")                                 # the suite wrote 64 over 0 ...
    system.journal_change("sysctl", knob, "0", "64")
    knob.write_text("128")                                # ... then the user set 128 after a kill
    assert [e["kind"] for e in system.restore(out=sys.stdout)] == ["sysctl"]  # settled ...
    assert knob.read_text() == "128"                      # ... and left as the user set it
    out = capsys.readouterr().out
    assert "left" in out and "'128'" in out and "someone changed it since" in out
    assert not journal.exists()


def test_restore_writes_a_selector_back_only_while_its_chosen_word_is_the_suites(tmp_path, journal):
    knob = tmp_path / "enabled"
    knob.write_text("always inherit [madvise] never\n")
    system.journal_change("sysctl", knob, "never", "madvise")
    system.restore()
    assert knob.read_text() == "never"


def test_restore_leaves_the_changes_of_a_process_still_running(tmp_path, journal, capsys):
    knob = tmp_path / "page-cluster"
    knob.write_text("0")
    owner = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        time.sleep(0.05)
        line = {"format": 2, "id": f"{owner.pid}-{time.time_ns()}-0", "pid": owner.pid, "kind": "sysctl",
                "path": str(knob), "old": "3", "new": "0"}
        journal.write_text(json.dumps(line) + "\n")
        assert system.restore(out=sys.stdout) == []
        assert knob.read_text() == "0" and "still running" in capsys.readouterr().out
        assert len(system.pending_changes()) == 1  # left for later, not settled
    finally:
        owner.stdin.close()
        owner.wait()
    assert [e["kind"] for e in system.restore()] == ["sysctl"]  # once it is gone, undone
    assert knob.read_text() == "3"


def test_a_pid_reused_by_a_newer_process_is_not_the_owner(tmp_path, journal):
    knob = tmp_path / "page-cluster"
    knob.write_text("0")
    newer = subprocess.Popen(["sleep", "30"])
    try:
        an_hour_ago = time.time_ns() - 3600 * 10**9
        line = {"format": 2, "id": f"{newer.pid}-{an_hour_ago}-0", "pid": newer.pid, "kind": "sysctl",
                "path": str(knob), "old": "3", "new": "0"}
        journal.write_text(json.dumps(line) + "\n")
        assert [e["kind"] for e in system.restore()] == ["sysctl"]
        assert knob.read_text() == "3"
    finally:
        newer.kill()
        newer.wait()


def test_an_undo_that_fails_stays_pending(tmp_path, journal, monkeypatch, capsys):
    monkeypatch.setattr(system, "CGROUP_REMOVE_ATTEMPTS", 2)
    group = tmp_path / "pageladder-9-0"
    group.mkdir()
    (group / "busy").write_text("")  # rmdir fails: not empty
    system.journal_change("cgroup", group)
    assert system.restore() == []
    assert "still pending" in capsys.readouterr().err
    assert len(system.pending_changes()) == 1 and journal.exists()


def test_a_relative_or_symlinked_swap_dir_is_journaled_resolved(tmp_path, journal, monkeypatch):
    real = tmp_path / "disk"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(swap_devices, "_filesystem_of", lambda d: ("ext4", "/"))
    swapped_on = []
    monkeypatch.setattr(swap_devices, "_mkswap_swapon", swapped_on.append)
    with swap_devices.swap_file("via", 1 << 20) as path:
        entry = system.pending_changes()[0]
        assert entry["path"] == path == str(real / f"pageladder-swap-{os.getpid()}")
        assert swapped_on == [path]
    # Active under its resolved name, swapoff must run before the file goes (here: never active).
    assert not Path(path).exists() and system.pending_changes() == []


def test_a_swap_file_name_taken_by_someone_else_is_not_removed(tmp_path, journal, monkeypatch):
    monkeypatch.setattr(swap_devices, "_filesystem_of", lambda d: ("ext4", "/"))
    theirs = tmp_path / f"pageladder-swap-{os.getpid()}"
    theirs.write_text("someone else's")
    with pytest.raises(system.SystemChangeError, match="cannot make a swap file"):
        with swap_devices.swap_file(tmp_path, 1 << 20):
            pass
    assert theirs.read_text() == "someone else's" and system.pending_changes() == []


def test_a_swap_dir_everyone_may_write_without_the_sticky_bit_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(system.SystemChangeError, match="without the sticky bit"):
        with swap_devices.swap_file(shared, 1 << 20):
            pass


def test_a_run_folder_others_may_write_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "run"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(system, "RUN_DIR", shared)
    monkeypatch.setenv("PAGELADDER_JOURNAL", str(shared / "journal.jsonl"))
    with pytest.raises(system.SystemChangeError, match="not this user's own private folder"):
        with system.run_lock():
            pass
    with pytest.raises(system.SystemChangeError, match="not this user's own private folder"):
        system.journal_change("sysctl", "/proc/sys/vm/page-cluster", "3", "0")
    assert not (shared / "journal.jsonl").exists()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    monkeypatch.setattr(system, "RUN_DIR", link)
    with pytest.raises(system.SystemChangeError, match="a symlink"):
        with system.run_lock():
            pass


def test_a_user_without_root_runs_without_a_lock_in_roots_run_folder(tmp_path, monkeypatch):
    from pageladder import cli
    roots = tmp_path / "run"
    roots.mkdir(mode=0o700)
    os.chown(roots, 0, 0)
    monkeypatch.setattr(system, "RUN_DIR", roots)
    monkeypatch.setenv("PAGELADDER_JOURNAL", str(roots / "journal.jsonl"))
    monkeypatch.setattr(system.os, "geteuid", lambda: 65534)  # roots is then not "this user's own"
    monkeypatch.setattr(system, "is_root", lambda: False)
    monkeypatch.setattr(cli, "_bench", lambda config: 0)
    assert cli.main(["bench", "--only", "minor_fault", "--results", str(tmp_path / "r")]) == 0  # not 7 (busy)


def test_make_restore_says_when_changes_stay_pending(tmp_path, journal, monkeypatch, capsys):
    from pageladder import cli, exits
    monkeypatch.setattr(system, "is_root", lambda: True)
    knob = tmp_path / "page-cluster"
    knob.write_text("0")
    owner = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.05)
        journal.write_text(json.dumps({"format": 2, "id": f"{owner.pid}-{time.time_ns()}-0", "pid": owner.pid,
                                       "kind": "sysctl", "path": str(knob), "old": "3", "new": "0"}) + "\n")
        assert cli.main(["restore"]) == exits.EXIT_PENDING
        assert "still pending" in capsys.readouterr().err
    finally:
        owner.kill()
        owner.wait()
    assert cli.main(["restore"]) == 0 and knob.read_text() == "3"


def test_a_sysctl_is_never_journaled_without_the_value_it_writes(journal):
    with pytest.raises(ValueError, match="the value it writes"):
        system.journal_change("sysctl", "/proc/sys/vm/page-cluster", "3")
    assert not journal.exists()


def test_a_swap_dir_of_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(system.SystemChangeError, match="belongs to uid 65534"):
        with swap_devices.swap_file(theirs, 1 << 20):
            pass


def test_a_process_that_exited_but_is_not_yet_reaped_is_not_the_owner(tmp_path, journal):
    knob = tmp_path / "page-cluster"
    knob.write_text("0")
    zombie = subprocess.Popen(["true"])
    while system._state_and_start(zombie.pid)[0] != "Z":  # exited; its parent (this test) has not reaped it
        time.sleep(0.01)
    try:
        journal.write_text(json.dumps({"format": 2, "id": f"{zombie.pid}-{time.time_ns()}-0", "pid": zombie.pid,
                                       "kind": "sysctl", "path": str(knob), "old": "3", "new": "0"}) + "\n")
        assert [e["kind"] for e in system.restore()] == ["sysctl"] and knob.read_text() == "3"
    finally:
        zombie.wait()
