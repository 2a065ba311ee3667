"""The journal of system changes (docs/journal.md): one format, read strictly.

fixtures/journal_v1.jsonl holds entries of every kind whose paths and values carry quotes,
backslashes, newlines, tabs, control characters and non-ASCII UTF-8 (including U+0085 and
U+2028, which str.splitlines() would take for line ends). The C++ unit test JournalTest checks
that the benchmarks write exactly these bytes; here the harness reads them and writes them too.
Every test uses a temporary journal and fake paths: no real system change.
"""
import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pageladder import cli, exits, swap_phases, system

FIXTURE = Path(__file__).parent / "fixtures" / "journal_v2.jsonl"
FIXTURE_V1 = Path(__file__).parent / "fixtures" / "journal_v1.jsonl"

# The fixture's changes, spelled out as Python literals (the C++ test spells them out too).
FIXTURE_CHANGES = [
    ("sysctl", '/tmp/pageladder-fake/sys/vm/knob "quoted" back\\slash', "3\n\ttab\x01\x1f\x7f end", "0"),
    ("cgroup", "/tmp/pageladder-fake/cgroup/pageladder-4242-0 \u00e9 \u00fc \u65e5\u672c \U0001F600 \u0085 \u2028", "", ""),
    ("swapfile", "/var/tmp/pageladder-swap-4242 \b\f\r", "", ""),
    ("zram", "/dev/zram7", "hot_added", "536870912"),
]
SETTLED = 2  # the fixture marks the swapfile entry undone


@pytest.fixture
def journal(tmp_path, monkeypatch):
    monkeypatch.setenv("PAGELADDER_JOURNAL", str(tmp_path / "journal.jsonl"))
    monkeypatch.setattr(system, "RUN_DIR", tmp_path / "run")
    return tmp_path / "journal.jsonl"


def test_reads_the_lines_the_benchmarks_write(journal):
    shutil.copy(FIXTURE, journal)
    pending = system.pending_changes()
    expected = [c for i, c in enumerate(FIXTURE_CHANGES) if i != SETTLED]
    assert [(e["kind"], e["path"], e["old"], e["new"]) for e in pending] == expected
    assert all(e["format"] == 2 and e["pid"] == 4242 for e in pending)


def test_still_reads_format_1_lines_without_the_value_written(journal):
    shutil.copy(FIXTURE_V1, journal)
    pending = system.pending_changes()
    assert [(e["kind"], e["path"], e["old"]) for e in pending] == \
        [c[:3] for i, c in enumerate(FIXTURE_CHANGES) if i != SETTLED]
    assert all(e["format"] == 1 and "new" not in e for e in pending)


def test_writes_every_kind_byte_for_byte_as_the_benchmarks(journal):
    fixture = FIXTURE.read_bytes().split(b"\n")[:-1]
    ids = [system.journal_change(*change) for change in FIXTURE_CHANGES]
    system.journal_undone(json.loads(fixture[-1])["undone"])
    written = journal.read_bytes().split(b"\n")
    assert written.pop() == b""  # every line ends with a newline
    assert len(written) == len(fixture)
    for entry_id, line, expected in zip(ids, written, fixture):
        theirs = json.loads(expected)
        head = f'{{"format":2,"id":"{theirs["id"]}","pid":{theirs["pid"]},'.encode()
        ours = f'{{"format":2,"id":"{entry_id}","pid":{os.getpid()},'.encode()
        assert expected.startswith(head)
        assert line == ours + expected[len(head):]  # only the id and pid differ
    assert written[-1] == fixture[-1]


def test_round_trips_every_kind(journal):
    ids = [system.journal_change(*change) for change in FIXTURE_CHANGES]
    system.journal_undone(ids[SETTLED])
    pending = system.pending_changes()
    assert [(e["kind"], e["path"], e["old"], e["new"]) for e in pending] == \
        [c for i, c in enumerate(FIXTURE_CHANGES) if i != SETTLED]
    assert [e["id"] for e in pending] == [i for n, i in enumerate(ids) if n != SETTLED]


def test_ids_are_pid_nanoseconds_counter_and_never_repeat(journal, monkeypatch):
    monkeypatch.setattr(system.time, "time_ns", lambda: 1767225600000000000)  # one nanosecond
    ids = [system.journal_change("sysctl", "/tmp/knob", "0", "1") for _ in range(3)]
    assert len(set(ids)) == 3
    pid, ns, _ = ids[0].split("-")
    assert pid == str(os.getpid()) and ns == "1767225600000000000"


def test_path_is_the_override_else_the_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PAGELADDER_JOURNAL", str(tmp_path / "j.jsonl"))
    assert system.journal_path() == tmp_path / "j.jsonl"
    monkeypatch.delenv("PAGELADDER_JOURNAL")
    monkeypatch.setattr(system, "RUN_DIR", tmp_path / "run")
    assert system.journal_path() == tmp_path / "run" / "journal.jsonl"


def test_refuses_a_path_that_is_not_utf8(journal):
    with pytest.raises(system.SystemChangeError, match="not UTF-8"):
        system.journal_change("swapfile", os.fsdecode(b"/var/tmp/pageladder-swap-\xff"))
    assert not journal.exists()


def _journal_with_pending_changes(tmp_path, journal):
    """A readable journal: a sysctl and a cgroup still to undo (both fake)."""
    sysctl = tmp_path / "page-cluster"
    sysctl.write_text("0")
    group = tmp_path / "pageladder-77-0"
    group.mkdir()
    system.journal_change("sysctl", sysctl, "3", "0")
    system.journal_change("cgroup", group)
    return sysctl, group


UNREADABLE = [
    ("not JSON", b'{"format":1,"id":"1-2-3","kind":"sysc\n', "line 3: not JSON"),
    ("no newline", b'{"format":1,"undone":"1-2-3"}', "line 3: the last line has no newline"),
    ("older format", b'{"id":"123","pid":9,"kind":"sysctl","path":"/tmp/x","old":"1"}\n',
     'line 3: no "format" field: written by an older pageladder'),
    ("unknown version", b'{"format":3,"undone":"1-2-3"}\n', "line 3: journal format 3"),
    ("format 2 without new", b'{"format":2,"id":"1","pid":9,"kind":"sysctl","path":"/x","old":""}\n', "line 3: fields"),
    ("relative path", b'{"format":2,"id":"1","pid":9,"kind":"swapfile","path":"x","old":"","new":""}\n',
     "line 3: the path 'x' is not absolute"),
    ("nested too deeply", b"[" * 100000 + b"]" * 100000 + b"\n", "line 3: nested too deeply"),
    ("boolean version", b'{"format":true,"undone":"1-2-3"}\n', "line 3: journal format True"),
    ("unknown kind", b'{"format":1,"id":"1","pid":9,"kind":"mount","path":"/x","old":""}\n',
     "line 3: unknown kind 'mount'"),
    ("missing field", b'{"format":1,"id":"1","pid":9,"kind":"sysctl","path":"/x"}\n', "line 3: fields"),
    ("wrong type", b'{"format":1,"id":1,"pid":9,"kind":"sysctl","path":"/x","old":""}\n',
     'line 3: "id" is not a str'),
    ("not UTF-8", b'{"format":1,"undone":"\xff"}\n', "line 3: not UTF-8"),
    ("not an object", b'[1, 2]\n', "line 3: not a JSON object"),
    ("empty line", b'\n', "line 3: not JSON"),
]


@pytest.mark.parametrize("raw, why", [u[1:] for u in UNREADABLE], ids=[u[0] for u in UNREADABLE])
def test_an_unreadable_line_stops_restore_before_it_undoes_anything(tmp_path, journal, raw, why):
    sysctl, group = _journal_with_pending_changes(tmp_path, journal)
    with open(journal, "ab") as f:
        f.write(raw)
    before = journal.read_bytes()
    with pytest.raises(system.JournalError) as caught:
        system.restore()
    message = str(caught.value)
    assert f"cannot read the journal {journal}" in message
    assert why in message
    assert f"write back \"3\" to {sysctl}" in message  # what to undo by hand
    assert f"rmdir {group}" in message
    assert sysctl.read_text() == "0" and group.exists()  # nothing undone
    assert journal.read_bytes() == before  # no marker appended, journal kept


def test_the_message_shows_the_line_shortened_with_control_characters_escaped(journal):
    journal.write_bytes(b'{"format":1,"id":"' + b"x" * 500 + b'\x01\n')
    with pytest.raises(system.JournalError) as caught:
        system.pending_changes()
    message = str(caught.value)
    assert "line 1:" in message and "more characters" in message
    assert "\x01" not in message and len(message) < 2000


def test_an_old_format_journal_lists_its_changes_to_undo_by_hand(tmp_path, journal):
    # As the previous pageladder wrote it: no "format", spaces after separators.
    journal.write_text('{"id": "17000000001234", "pid": 1234, "kind": "sysctl", '
                       '"path": "/proc/sys/vm/page-cluster", "old": "3"}\n'
                       '{"id": "17000000005678", "pid": 1234, "kind": "zram", '
                       '"path": "/dev/zram1", "old": "hot_added"}\n'
                       '{"undone": "17000000005678"}\n')
    with pytest.raises(system.JournalError) as caught:
        system.restore()
    message = str(caught.value)
    to_do = message.split("Undo by hand")[1]
    assert 'line 1: sysctl: write back "3" to /proc/sys/vm/page-cluster' in to_do
    assert "zram1" not in to_do and "line 3" not in to_do  # settled by its marker
    assert f"rm {journal}" in message


def _as_root(monkeypatch):
    monkeypatch.setattr(system, "is_root", lambda: True)


def test_make_restore_exits_non_zero_with_the_message(tmp_path, journal, monkeypatch, capsys):
    _as_root(monkeypatch)
    sysctl, group = _journal_with_pending_changes(tmp_path, journal)
    with open(journal, "a") as f:
        f.write("garbage\n")
    assert cli.main(["restore"]) == exits.EXIT_JOURNAL != 0
    err = capsys.readouterr().err
    assert f"cannot read the journal {journal}" in err and "line 3: not JSON" in err
    assert sysctl.read_text() == "0" and group.exists()


def test_bench_as_root_stops_before_running_anything(tmp_path, journal, monkeypatch, capsys):
    _as_root(monkeypatch)
    _journal_with_pending_changes(tmp_path, journal)
    with open(journal, "a") as f:
        f.write('{"undone": "1"}\n')
    monkeypatch.setattr(cli, "_bench", lambda *a: pytest.fail("benchmarks ran past an unreadable journal"))
    for only in ("minor_fault", "swap_in"):  # the restore before a run, with or without changes
        assert cli.main(["bench", "--only", only, "--results", str(tmp_path / "r")]) == exits.EXIT_JOURNAL
        assert 'line 3: no "format" field' in capsys.readouterr().err


def test_restore_of_a_readable_journal_still_works_through_the_cli(tmp_path, journal, monkeypatch):
    _as_root(monkeypatch)
    sysctl, group = _journal_with_pending_changes(tmp_path, journal)
    assert cli.main(["restore"]) == 0
    assert sysctl.read_text() == "3" and not group.exists() and not journal.exists()


def test_remove_cgroup_touches_only_pageladder_groups(tmp_path):
    theirs, ours = tmp_path / "system.slice", tmp_path / "pageladder-5-0"
    theirs.mkdir()
    ours.mkdir()
    assert not system.remove_cgroup(theirs) and theirs.exists()
    assert system.remove_cgroup(ours) and not ours.exists()


def test_remove_cgroup_kills_what_it_lists(tmp_path, monkeypatch):
    child = subprocess.Popen(["sleep", "60"])
    group = tmp_path / "pageladder-6-0"
    group.mkdir()
    (group / "cgroup.procs").write_text(f"{os.getpid()}\n{child.pid}\n")
    real_rmdir = os.rmdir

    def rmdir_once_child_is_dead(path):
        if child.poll() is None:
            raise OSError(16, "Device or resource busy")
        (Path(path) / "cgroup.procs").unlink()
        real_rmdir(path)
    monkeypatch.setattr(system.os, "rmdir", rmdir_once_child_is_dead)
    try:
        assert system.remove_cgroup(group)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -9 and not group.exists()


def test_active_swaps_from_swapon_then_proc_swaps(tmp_path, monkeypatch):
    from pageladder import metadata
    monkeypatch.setattr(metadata, "_run_json", lambda argv: {"swapdevices": [
        {"name": "/dev/zram0", "type": "partition", "size": 536866816, "used": 0, "prio": 100},
        {"name": "/var/tmp/my swap", "type": "file", "size": 268431360, "used": 0, "prio": -2}]})
    assert system.active_swaps() == ["/dev/zram0", "/var/tmp/my swap"]
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "swaps").write_text(
        "Filename\tType\tSize\tUsed\tPriority\n"
        "/dev/zram0                              partition\t524284\t0\t100\n"
        "/var/tmp/my\\040swap                     file\t262140\t0\t-2\n")
    monkeypatch.setattr(metadata, "_run_json", lambda argv: None)  # no swapon: /proc/swaps
    monkeypatch.setattr(metadata, "ROOT", tmp_path)
    assert system.active_swaps() == ["/dev/zram0", "/var/tmp/my swap"]


def test_swap_phases_uses_only_public_names_of_system():
    tree = ast.parse(Path(swap_phases.__file__).read_text())
    private = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
               and isinstance(n.value, ast.Name) and n.value.id == "system" and n.attr.startswith("_")]
    assert private == []


def test_swap_phases_finds_the_machines_own_swap_of_each_kind(monkeypatch):
    monkeypatch.setattr(system, "active_swaps",
                        lambda: ["/var/tmp/pageladder-swap-9", "/dev/zram3", "/swapfile"])
    assert swap_phases._existing("zram") == "/dev/zram3"
    assert swap_phases._existing("disk") == "/swapfile"


def test_restore_needs_only_the_standard_library(tmp_path):
    """make restore must work where a run died before make deps finished: numpy, matplotlib,
    scipy and statsmodels made unimportable, restore (and targets) still run."""
    blocked = "import sys\nfor m in ('numpy', 'matplotlib', 'scipy', 'statsmodels'): sys.modules[m] = None\n"
    env = dict(os.environ, PAGELADDER_JOURNAL=str(tmp_path / "run" / "journal.jsonl"),
               PAGELADDER_RUN_DIR=str(tmp_path / "run"), PYTHONPATH=str(Path(cli.__file__).parents[1]))
    for argv, words in ((["restore"], "nothing to restore" if os.geteuid() == 0 else "needs root"),
                        (["targets", "--only", "minor_fault"], "minor_fault_bench")):
        done = subprocess.run([sys.executable, "-c", blocked + f"from pageladder import cli\nsys.exit(cli.main({argv!r}))"],
                              capture_output=True, text=True, env=env)
        assert words in done.stdout + done.stderr, done.stderr[-500:]
        assert "Traceback" not in done.stderr
