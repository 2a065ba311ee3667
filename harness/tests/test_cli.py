import json
import os

import pytest

from pageladder import cli, config, exits, registry


def test_only_accepts_contract_names_and_refuses_others_listing_the_valid_ones():
    assert [b.name for b in config.select_benchmarks(["minor_fault cow_fault"])] == ["minor_fault", "cow_fault"]
    assert [b.name for b in config.select_benchmarks(["tlb,swap_in"])] == ["tlb", "swap_in"]
    assert len(config.select_benchmarks(None)) == len(registry.BENCHMARKS)
    with pytest.raises(ValueError) as e:
        config.select_benchmarks(["minor_fault bogus"])
    assert "bogus" in str(e.value)
    for name in registry.benchmark_names():
        assert name in str(e.value)


def test_unknown_only_name_exits_2_before_running(tmp_path, capsys):
    assert cli.main(["bench", "--only", "bogus", "--results", str(tmp_path / "r")]) == 2
    assert "valid names" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_targets_are_the_binaries_only_runs_and_the_demand_paging_experiment(capsys):
    """make bench builds just these (a guest under emulation compiles what it measures)."""
    assert cli.main(["targets", "--only", "minor_fault cow_fault"]) == 0
    assert capsys.readouterr().out.split() == ["minor_fault_bench", "cow_fault_bench", "demand_paging"]
    assert cli.main(["targets"]) == 0
    assert capsys.readouterr().out.split() == [b.binary for b in registry.BENCHMARKS] + ["demand_paging"]
    assert cli.main(["targets", "--only", "bogus"]) == 2
    assert "valid names" in capsys.readouterr().err


def test_a_lab_hosts_guest_names_its_facts_in_the_environment(monkeypatch):
    """A guest serving SSH (guests/lab_host.py) sets PAGELADDER_GUEST in every session."""
    monkeypatch.setenv("PAGELADDER_GUEST", "/staging/guest.json")
    assert cli.build_parser().parse_args(["bench"]).guest == "/staging/guest.json"
    monkeypatch.delenv("PAGELADDER_GUEST")
    assert cli.build_parser().parse_args(["bench"]).guest is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_results_exits_2_before_running(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert cli.main(["bench", "--results", str(locked / "r")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_unwritable_results_under_proc_exits_2(capsys):
    assert cli.main(["bench", "--results", "/proc/pageladder-results"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_missing_binaries_are_skipped_and_the_run_is_still_written(tmp_path, capsys):
    status = cli.main(["bench", "--quick", "--build-dir", str(tmp_path / "nobuild"),
                       "--results", str(tmp_path / "r")])
    assert status == 0
    latest = tmp_path / "r" / "latest"
    run = json.loads((latest / "run.json").read_text())
    assert run["pageladder"]["ladder"] == []
    assert {s["benchmark"] for s in run["pageladder"]["skipped"]} == set(registry.benchmark_names()) | {"demand_paging"}
    assert all("not built" in s["reason"] for s in run["pageladder"]["skipped"])
    assert (latest / "ladder.svg").is_file() and (latest / "report.md").is_file()
    out = capsys.readouterr().out
    assert "tlb skipped: not built" in out and "swap_in skipped: not built" in out


@pytest.mark.parametrize("bad", ["16 256", "16 8 32768", "a b c", "1 256 32768"])
def test_bad_tlb_pages_exit_2_before_running(tmp_path, capsys, bad):
    assert cli.main(["bench", "--results", str(tmp_path / "r"), "--tlb-pages", bad]) == 2
    assert "TLB_PAGES wants three increasing page counts" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def run_nothing(monkeypatch):
    """cli.main's bench with the runner faked out: returns what run_all was given,
    {"extra": {short name: flags}, **its keyword arguments}, once bench has run."""
    seen = {}

    def fake_run_all(selected, build_dir, run_dir, quick, extra, **kwargs):
        seen.update(kwargs, extra=extra)
        return {}, False
    monkeypatch.setattr(cli.runner, "run_all", fake_run_all)
    monkeypatch.setattr(cli.runner, "run_demand_paging", lambda *a: {"failed": "not run"})
    return seen


def test_tlb_pages_reach_the_tlb_binary(tmp_path, monkeypatch):
    seen = run_nothing(monkeypatch)
    cli.main(["bench", "--results", str(tmp_path / "r"), "--only", "tlb", "--tlb-pages", "16, 512 65536"])
    assert seen["extra"]["tlb"] == ["--pageladder_tlb_pages=16,512,65536"]


def test_an_unusable_cpu_exits_2_naming_the_choices(tmp_path, capsys):
    assert cli.main(["bench", "--results", str(tmp_path / "r"), "--cpu", "9999"]) == 2
    assert "CPU=9999 is not a CPU this run may use; choose one of" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cpu_pins_every_benchmark_process(tmp_path):
    from pageladder import runner
    cpu = sorted(os.sched_getaffinity(0))[-1]
    out = tmp_path / "affinity"
    status = runner.run_streaming(["sh", "-c", f"grep Cpus_allowed_list /proc/self/status > {out}"],
                                  timeout=30, out=open(os.devnull, "w"), pin_cpu=cpu)
    assert status == 0 and out.read_text().split()[-1] == str(cpu)


def test_the_cpu_is_passed_down_from_the_command_line_not_set_in_a_global(tmp_path, monkeypatch):
    from pageladder import runner
    seen = run_nothing(monkeypatch)
    cpu = sorted(os.sched_getaffinity(0))[-1]
    cli.main(["bench", "--results", str(tmp_path / "r"), "--only", "segv_fault", "--cpu", str(cpu)])
    assert seen["pin_cpu"] == cpu
    assert not hasattr(runner, "PIN_CPU")
    run = json.loads((tmp_path / "r" / "latest" / "run.json").read_text())
    assert run["pageladder"]["harness"]["cpu"] == cpu


def test_a_second_run_on_one_machine_is_refused_even_when_it_changes_nothing(tmp_path, monkeypatch):
    # A fleet may name one machine twice: the second run must not time the first's machine.
    from pageladder import system
    with system.run_lock():
        assert cli.main(["bench", "--only", "minor_fault", "--no-system-changes",
                         "--results", str(tmp_path / "r")]) == exits.EXIT_BUSY == 7
