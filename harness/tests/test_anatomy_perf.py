"""anatomy_perf.py: perf's text read back as samples and switches, and what is said to perf."""
from pathlib import Path

import pytest

from pageladder import anatomy_perf
from pageladder.anatomy_phases import classify

FIXTURES = Path(__file__).parent / "fixtures" / "anatomy"

PERF_SCRIPT = """\
   4242/4242  100.000001000: 
\tffffffff82203249 _raw_spin_unlock_irqrestore
\tffffffff815a337b folio_batch_move_lru
\tffffffff821f525d exc_page_fault
\t    55d0c0de1234 main
\t    7fa0ae6f2ad7 [unknown]

   4242/4242  100.000002500: PERF_RECORD_SWITCH OUT preempt
   4242/4242  100.000003000: PERF_RECORD_SWITCH IN
   4242/4243  100.000004000: 
\t    55d0c0de1234 handler_loop

"""


def test_perf_script_gives_samples_with_kernel_frames_and_switches():
    records = list(anatomy_perf.parse_perf_script(PERF_SCRIPT.splitlines(keepends=True)))
    assert records == [
        ("sample", 4242, 4242, 100_000_001_000,
         ["_raw_spin_unlock_irqrestore", "folio_batch_move_lru", "exc_page_fault"]),
        ("switch", 4242, 4242, 100_000_002_500, "out preempt"),
        ("switch", 4242, 4242, 100_000_003_000, "in"),
        ("sample", 4242, 4243, 100_000_004_000, []),
    ]


def test_real_perf_script_output_is_read():
    """An excerpt of `perf script -F pid,tid,time,ip,sym --ns --show-switch-events` (perf 6.1 on
    kernel 6.18): samples with kernel and user frames, user-only samples, switch records."""
    with open(FIXTURES / "perf_script_excerpt.txt") as f:
        records = list(anatomy_perf.parse_perf_script(f))
    samples = [r for r in records if r[0] == "sample"]
    switches = [r for r in records if r[0] == "switch"]
    assert [s[4] for s in switches] == ["out preempt", "in"]
    assert switches[0][1:4] == (4226, 4226, 10116_508024101)
    assert samples[0][4][:2] == ["strnlen", "perf_event_mmap"]
    fault = next(s for s in samples if s[4] and s[4][0] == "clear_page_erms")
    assert fault[4][-1] == "asm_exc_page_fault"  # user frames (_int_malloc) are not kept
    assert classify(fault[4])[0] == "zeroing"
    assert sum(1 for s in samples if not s[4]) >= 3  # user-space samples (the clock reads)


def fake_perf(tmp_path, status):
    """A perf whose `script` writes PERF_SCRIPT, warns of lost records and exits with status."""
    (tmp_path / "script.txt").write_text(PERF_SCRIPT)
    perf = tmp_path / "perf"
    perf.write_text(f"#!/bin/sh\ncat {tmp_path / 'script.txt'}\n"
                    f"echo 'Processed 9 events and lost 2 chunks!' >&2\nexit {status}\n")
    perf.chmod(0o755)
    return str(perf)


def test_a_recording_is_streamed_into_the_join_with_perfs_warnings(tmp_path):
    records, warnings = anatomy_perf.read_recording(fake_perf(tmp_path, 0), tmp_path / "perf.data",
                                                    tmp_path / "perf-script.err", list)
    assert [r[0] for r in records] == ["sample", "switch", "switch", "sample"]
    assert warnings == ["Processed 9 events and lost 2 chunks!"]


def test_a_failing_perf_script_is_an_error_with_its_words(tmp_path):
    with pytest.raises(ValueError, match="perf script exited 1: .*lost 2 chunks"):
        anatomy_perf.read_recording(fake_perf(tmp_path, 1), tmp_path / "perf.data",
                                    tmp_path / "perf-script.err", list)


def test_perf_records_call_chains_switches_and_the_windows_clock():
    command = anatomy_perf.record_command("perf", {"args": ["-e", "cpu-clock", "-c", "200000"]},
                                          "out.data", ["taskset", "-c", "1", "./minor_fault_bench"])
    assert command[:2] == ["perf", "record"]
    assert {"-g", "--switch-events"} <= set(command)
    assert command[command.index("-k") + 1] == "monotonic"
    assert command[command.index("-o") + 1] == "out.data"
    assert command[command.index("--") + 1:] == ["taskset", "-c", "1", "./minor_fault_bench"]
