"""Exports of a run for continuous-benchmarking dashboards, derived from run.json alone.

- github-action-benchmark, tool `customSmallerIsBetter`: a JSON list of
  {"name", "unit", "value", "range", "extra"};
- Bencher Metric Format (BMF): {"<benchmark>": {"latency": {"value", "lower_value", "upper_value"}}}.
Only valid rungs are exported: an invalid or skipped rung has no number to put on a dashboard.
"""
import json

GITHUB_ACTION_BENCHMARK = "github-action-benchmark.json"
BENCHER = "bencher.json"


def _valid(run):
    return [r for r in run["pageladder"]["ladder"] if r["valid"]]


def github_action_benchmark(run):
    block = run["pageladder"]
    context = f"{block['machine'].get('cpu_model')}; kernel {block['kernel'].get('release')}; run {block['run_id']}"
    return [{
        "name": f"pageladder/{r['id']}",
        "unit": "ns",
        "value": r["median_ns"],
        "range": f"{r['lo_ns']:.6g}-{r['hi_ns']:.6g}",
        "extra": f"{r['label']}; {r['samples']} repetitions (median, min-max); {context}",
    } for r in _valid(run)]


def bencher(run):
    return {f"pageladder/{r['id']}": {"latency": {"value": r["median_ns"], "lower_value": r["lo_ns"],
                                                  "upper_value": r["hi_ns"]}}
            for r in _valid(run)}


def write(run, run_dir):
    (run_dir / GITHUB_ACTION_BENCHMARK).write_text(json.dumps(github_action_benchmark(run), indent=1) + "\n")
    (run_dir / BENCHER).write_text(json.dumps(bencher(run), indent=1) + "\n")
