"""Fixture runs for the harness tests, each a variant of the one checked-in base run
(fixtures/runs/base/run.json, made by make_fixture_runs.py from a real quick run): a function
per variant, named for what it is, changing a few lines and rebuilding the ladder from the
edited rows as collect.assemble would."""
import copy
import json
import math
import random
from pathlib import Path

from pageladder import benchmark_json, ladder, registry
from pageladder.benchmark_json import INVOCATION_KEY

BASE = Path(__file__).parent / "fixtures" / "runs" / "base" / "run.json"


def base():
    return rebuild(json.loads(BASE.read_text()))


def rebuild(run):
    """The ladder and rung skips again from the (edited) rows and the binaries' descriptions
    of them (run.json's pageladder.rows), as collect.assemble builds them."""
    described = run["pageladder"]["rows"]
    results = {}
    for spec in described.values():
        results.setdefault(spec["benchmark"], {"file": spec["file"], "rows": [], "specs": {}})["specs"][spec["id"]] = spec
    for row in run["benchmarks"]:
        spec = described.get(benchmark_json.strip_time_suffix(row.get("run_name", row["name"])))
        if spec:
            results[spec["benchmark"]]["rows"].append(row)
    # Skipped rows are not in run.json's benchmarks: their entries in `skipped` stand.
    measured = {benchmark_json.strip_time_suffix(r.get("run_name", r["name"])) for r in run["benchmarks"]}
    kept = [s for s in run["pageladder"]["skipped"] if s.get("rung") not in measured]
    rungs, skipped = ladder.build(results, already_skipped={s["rung"] for s in kept if "rung" in s})
    run["pageladder"]["ladder"] = rungs
    run["pageladder"]["skipped"] = skipped + kept
    return run


def rows_of(run, rung_id):
    return [r for r in run["benchmarks"] if benchmark_json.strip_time_suffix(r.get("run_name", "")) == rung_id]


def renamed(run, run_id, kernel=None):
    run["pageladder"]["run_id"] = run_id
    if kernel:
        run["pageladder"]["kernel"]["release"] = run["pageladder"]["fingerprint"]["kernel_release"] = kernel
    return run


def kernel_a():
    return base()


def identical_twin(seed=1, run_shift=0.0):
    """Another run of the same configuration: every invocation of every rung moved by a factor
    drawn from that rung's own spread between invocations, every repetition by a little more,
    and the whole run by `run_shift` (a fraction; what a busy host does to a whole run)."""
    run = renamed(base(), f"20260101-{13 + seed // 60:02d}{seed % 60:02d}00-lab1-6.18.0")
    rng = random.Random(seed)
    for entry in run["pageladder"]["ladder"]:
        logs = [math.log(m) for m in entry["invocation_medians_ns"]]
        mean = sum(logs) / len(logs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / max(1, len(logs) - 1))
        factors = {}
        for r in rows_of(run, entry["id"]):
            k = r.get(INVOCATION_KEY, 1)
            factors.setdefault(k, math.exp(rng.gauss(0, sd)))
            r["real_time"] *= factors[k] * math.exp(rng.gauss(0, sd / 4)) * (1 + run_shift)
    return rebuild(run)


def whole_run_shifted(fraction, seed=9):
    """An identical run on a host that was `fraction` slower throughout."""
    return identical_twin(seed, run_shift=fraction)


def kernel_b_minor_fault_slower(fraction):
    """Another kernel whose minor_fault is `fraction` slower, every other row as in kernel_a."""
    run = renamed(base(), "20260102-120000-lab1-6.19.0", kernel="6.19.0")
    for r in rows_of(run, "minor_fault"):
        r["real_time"] *= 1 + fraction
    return rebuild(run)


def kernel_b_minor_fault_10_percent_slower():
    return kernel_b_minor_fault_slower(0.10)


def kernel_b_minor_fault_50_percent_slower():
    """A change no drift between two runs explains: one run a side calls it."""
    return kernel_b_minor_fault_slower(0.50)


def with_memory_references(run, ids=("ref_fork_per_gib", "file_fault_tmpfs", "ref_direct_read")):
    """The run with these rows described as memory-speed references (the base run predates the
    flag): rows whose time follows the machine, not the kernel."""
    for rung_id in ids:
        run["pageladder"]["rows"][rung_id]["memory_reference"] = True
    return run


def steady_history(count=4, first=30):
    """Earlier identical runs of kernel_a's configuration whose medians land where their
    invocations say (no whole-run drift): history.groups' shape, one group."""
    return [[identical_twin(first + k) for k in range(count)]]


def stlb_hit_at_another_page_count():
    run = renamed(base(), "20260103-120000-lab1-6.18.0")
    for r in rows_of(run, "stlb_hit"):
        r["pages"] = 512.0
    return rebuild(run)


def quick_run_file_rungs():
    """The file rungs as a quick run measures them: on a smaller test file."""
    run = renamed(base(), "20260108-120000-lab1-6.18.0")
    for r in run["benchmarks"]:
        if "file_mib" in r:
            r["file_mib"] = r["file_mib"] / 2
    return rebuild(run)


def minor_fault_time_not_a_number():
    run = renamed(base(), "20260109-120000-lab1-6.18.0")
    rows_of(run, "minor_fault")[0]["real_time"] = 0.0
    return rebuild(run)


def other_machine():
    run = renamed(base(), "20260104-120000-lab2-6.18.0")
    for where in (run["pageladder"]["machine"], run["pageladder"]["fingerprint"]):
        where["cpu_model"] = "Intel(R) Xeon(R) Platinum 8480+"
        where["microcode"] = "0x2b000590"
    return run


def minor_fault_invalid():
    run = renamed(base(), "20260105-120000-lab1-6.18.0")
    for r in rows_of(run, "minor_fault"):
        r["valid"] = 0
        r["minor_faults_per_event"] = 2.0
        r["label"] = json.dumps({"invalid": ["2.000 minor faults per event, expected 0.99-1.01"]})
    return rebuild(run)


def cow_fault_missing():
    run = renamed(base(), "20260106-120000-lab1-6.18.0")
    run["benchmarks"] = [r for r in run["benchmarks"] if r not in rows_of(run, "cow_fault")]
    return rebuild(run)


def one_invocation_only():
    """A run whose rows carry no invocation (one process per binary, as pageladder made them
    before invocations): its noise between processes is unknown."""
    run = renamed(base(), "20260107-120000-lab1-6.18.0")
    for r in run["benchmarks"]:
        r.pop(INVOCATION_KEY, None)
    return rebuild(run)


def other_schema():
    run = base()
    run["pageladder"]["schema_version"] = 99
    return run


def write(run, folder, text=None):
    """Writes run as folder/run.json; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(text if text is not None else json.dumps(run, indent=1) + "\n")
    return folder


def corrupt_text():
    return BASE.read_text()[:5000]


def copy_of(run):
    return copy.deepcopy(run)


def in_guest(accel, seed=5, cpus=2, memory_mib=4096, run_shift=0.0, host_cpu="AMD EPYC 9R14"):
    """The twin run as a pageladder guest makes it (guests/): settings.guest and its fingerprint."""
    from pageladder import fingerprint
    run = identical_twin(seed, run_shift)
    block = run["pageladder"]
    block["settings"]["guest"] = {"accel": accel, "accel_reason": "test", "cpus": cpus,
                                  "memory_mib": memory_mib, "cgroup": "v2", "qemu": "7.2.22",
                                  "kernel": {"requested": "linux-image-amd64", "package": "", "release": "6.1.0"},
                                  "host": {"hostname": "lab1", "kernel_release": "6.18.0",
                                           "cpu_model": host_cpu}}
    block["fingerprint"] = fingerprint.fingerprint(block["machine"], block["kernel"], block["settings"])
    return run


def fake_build(folder):
    """A build folder whose binaries only describe their rows (`--pageladder_describe_rows`), as
    the base run's binaries described them, and fail at anything else: for the parts of the
    harness that ask a binary about its rows before running it."""
    import os
    import stat
    described = base()["pageladder"]["rows"]
    benchmarks = Path(folder) / "benchmarks"
    benchmarks.mkdir(parents=True, exist_ok=True)
    for bench in registry.BENCHMARKS:
        specs = [spec for spec in described.values() if spec.get("benchmark") == bench.name]
        (benchmarks / f"{bench.binary}.rows.json").write_text(json.dumps(specs))
        script = benchmarks / bench.binary
        script.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = --pageladder_describe_rows ] && exec cat "{script}.rows.json"; done\n'
                          'exit 1\n')
        os.chmod(script, os.stat(script).st_mode | stat.S_IEXEC)
    return Path(folder)
