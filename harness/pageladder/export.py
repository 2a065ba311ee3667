"""Exports of a run for continuous-benchmarking dashboards, derived from run.json alone.

- github-action-benchmark, tool `customSmallerIsBetter`: a JSON list of
  {"name", "unit", "value", "range", "extra"};
- Bencher Metric Format (BMF): {"<benchmark>": {"latency": {"value", "lower_value", "upper_value"}}}.
Only valid rungs are exported there: an invalid or skipped rung has no number for a dashboard.
- ladder.csv, for a spreadsheet: one line per rung, invalid ones with empty time columns and the
  reason (never a number).
"""
import csv
import io

from pageladder import safe_io

GITHUB_ACTION_BENCHMARK = "github-action-benchmark.json"
LADDER_CSV = "ladder.csv"
CSV_COLUMNS = ("id", "label", "family", "median_ns", "min_ns", "max_ns", "p50_ns", "p99_ns", "valid", "why")
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


def ladder_csv(run):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in run["pageladder"]["ladder"]:
        times = [r["median_ns"], r["lo_ns"], r["hi_ns"], r.get("p50_ns"), r.get("p99_ns")] if r["valid"] else [None] * 5
        why = r["why_invalid"] if not r["valid"] else "; ".join("not verified: " + n for n in r.get("not_verified", []))
        writer.writerow([r["id"], r["label"], r.get("family"), *("" if t is None else f"{t:.6g}" for t in times),
                         "yes" if r["valid"] else "no", why or ""])
    return out.getvalue()


def write(run, run_dir):
    safe_io.write_text_atomically(run_dir / LADDER_CSV, ladder_csv(run))
    safe_io.write_json_atomically(run_dir / GITHUB_ACTION_BENCHMARK, github_action_benchmark(run))
    safe_io.write_json_atomically(run_dir / BENCHER, bencher(run))
