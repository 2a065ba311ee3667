"""make compare KERNELS=...: every round boots each kernel afresh and runs each benchmark once,
the sides interleaved; here the guests are stand-ins (no qemu) that hand back a run whose every
boot lands up to 20% apart, one kernel 30% slower on minor_fault."""
import json
import math
import random
import sys
from pathlib import Path

import pytest

from guests import bench, rounds

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness" / "tests"))
import runs  # noqa: E402  (the harness tests' fixture runs)

from pageladder import benchmark_json, registry  # noqa: E402


def _fake_guest(slower, calls, seed=3):
    """bench.run's stand-in: a run of the base fixture, every row moved by this boot's luck (up to
    +-20%), minor_fault `slower` (a fraction) where the kernel is 'new'; handed back like a guest's."""
    rng = random.Random(seed)

    def run(request):
        calls.append((request.kernel, list(request.harness_args), request.draw))
        boot = math.exp(rng.uniform(-0.2, 0.2))
        made = runs.base()
        made["pageladder"]["run_id"] = f"20260101-1200{len(calls):02d}-guest-6.1.0"
        for row in made["benchmarks"]:
            name = benchmark_json.strip_time_suffix(row.get("run_name", ""))
            change = 1 + slower if request.kernel == "new" and name == "minor_fault" else 1.0
            row["real_time"] *= boot * change * math.exp(rng.gauss(0, 0.003))
        made = runs.rebuild(made)
        folder = Path(request.results) / made["pageladder"]["run_id"]
        runs.write(made, folder)
        request.handed_back = folder
        return 0
    return run


@pytest.fixture(autouse=True)
def kernels_at_hand(monkeypatch):
    """Every kernel named resolves (the stand-in guests boot none)."""
    monkeypatch.setattr(rounds.kernel, "resolve", lambda name, cache, modules=None: name)


def _template(tmp_path):
    return bench.GuestRequest(kernel="", harness_args=[], build_dir=tmp_path / "build", results=tmp_path / "results",
                              python=sys.executable)


def test_each_round_boots_each_kernel_afresh_and_runs_what_is_undecided(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run", _fake_guest(0.30, calls))
    selected = [registry.BENCHMARK_BY_NAME[n] for n in ("minor_fault", "cow_fault")]
    status = rounds.compare(_template(tmp_path), ["old", "new"], ["--quick"], selected, 600.0, 0.05,
                            fail_on_slower=True)
    assert status == 3  # minor_fault slower, FAIL_ON_SLOWER
    assert [c[0] for c in calls[:4]] == ["old", "new", "new", "old"]  # A B, B A
    assert all("--invocations" in c[1] and c[1][c[1].index("--invocations") + 1] == "1" for c in calls)
    assert calls[0][1][:1] == ["--quick"] and "minor_fault cow_fault" in calls[0][1]
    assert not any(draw for _, _, draw in calls)  # rounds are not drawn one by one
    compared = next((tmp_path / "results").glob("compare-*/compare.json"))
    data = json.loads(compared.read_text())
    assert data["method"]["paired"]
    verdicts = {r["id"]: r["verdict"] for r in data["rungs"]}
    assert verdicts["minor_fault"] == "slower"
    assert not {v for i, v in verdicts.items() if i != "minor_fault"} & {"faster", "slower"}
    assert len(list((tmp_path / "results").glob("kernels-*/A/2026*"))) == len(data["interleaved"]["rounds"])


def test_one_kernel_twice_calls_nothing_through_the_boots_luck(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run", _fake_guest(0.0, calls, seed=7))
    selected = [registry.BENCHMARK_BY_NAME["minor_fault"]]
    assert rounds.compare(_template(tmp_path), ["old", "old"], [], selected, 600.0, 0.05, fail_on_slower=True) == 0
    data = json.loads(next((tmp_path / "results").glob("compare-*/compare.json")).read_text())
    assert not {r["verdict"] for r in data["rungs"]} & {"faster", "slower"}


def test_a_guest_that_hands_back_nothing_stops_the_comparison(tmp_path, monkeypatch):
    def broken(request):
        return 6
    monkeypatch.setattr(bench, "run", broken)
    status = rounds.compare(_template(tmp_path), ["old", "new"], [], [registry.BENCHMARK_BY_NAME["minor_fault"]],
                            600.0, 0.05, fail_on_slower=False)
    assert status == bench.EXIT_GUEST  # not 130: nobody pressed Ctrl-C
    assert not list((tmp_path / "results").glob("compare-*"))


def test_a_kernel_that_cannot_be_had_is_said_before_any_guest_boots(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run", _fake_guest(0.0, calls))

    def resolve(name, cache, modules=None):
        if name == "nonesuch":
            raise rounds.kernel.KernelError("nonesuch is neither a file nor a Debian kernel package")
        return name
    monkeypatch.setattr(rounds.kernel, "resolve", resolve)
    status = rounds.compare(_template(tmp_path), ["old", "nonesuch"], [], [registry.BENCHMARK_BY_NAME["minor_fault"]],
                            600.0, 0.05, fail_on_slower=False)
    assert status == bench.EXIT_GUEST and calls == []
