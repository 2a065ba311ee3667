"""Builds run.json: Google Benchmark's `context` and `benchmarks` (so compare.py reads it), plus
the `pageladder` block with machine, kernel, settings, skipped and ladder; and, once the ladder
is known, adds to anatomy.json what needs it (each phase's time per event)."""
import datetime
import json
import math
import platform
import re
import socket
from pathlib import Path

from pageladder import SCHEMA_VERSION, anatomy, benchmark_json, fingerprint, ladder, metadata, safe_io, sweep


def _plain(text):
    """A host name or kernel release as part of a run id: characters a run id may not hold
    (safe_io's plain names: a guest's kernel may call itself anything) become '_'."""
    return re.sub(r"[^A-Za-z0-9._+~@:,=-]", "_", text) or "_"


def run_id(now=None):
    now = now or datetime.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{_plain(socket.gethostname())}-{_plain(platform.release())}"


def assemble(run_dir, outcomes, harness_settings, extra_skipped=(), root=None, demand_paging=None,
             guest=None):
    """outcomes: {short name: {"binary": str, "file": str|None, "failed": str|None, "seconds": float}}.

    Writes run_dir/run.json and returns it as a dict.
    """
    directories = {k: harness_settings[k] for k in ("file_dir", "swap_dir") if harness_settings.get(k)}
    machine, kernel, settings = metadata.collect(root, directories=directories)
    if guest is not None:
        settings["guest"] = guest
    context, benchmarks, results, row_descriptions = None, [], {}, {}
    for name, outcome in outcomes.items():
        if outcome.get("failed"):
            results[name] = {"failed": outcome["failed"]}
            continue
        try:
            ctx, rows = benchmark_json.load(Path(run_dir) / outcome["file"])
        except ValueError as e:
            results[name] = {"failed": str(e)}
            continue
        try:
            specs = benchmark_json.row_specs(ctx)
        except ValueError as e:
            results[name] = {"failed": f"{outcome['file']}: {e}"}
            continue
        if context is None:
            context = dict(ctx)
        metadata.merge_binary_context(settings, ctx)
        benchmarks.extend(for_google_tools(rows, family_offset=len({r.get("family_index") for r in benchmarks})))
        results[name] = {"file": outcome["file"], "rows": rows, "specs": specs}
        row_descriptions.update({i: dict(spec, benchmark=name, file=outcome["file"]) for i, spec in specs.items()})
    extra_skipped = list(extra_skipped) + [s for o in outcomes.values() for s in o.get("skipped", [])]
    used = [d for o in outcomes.values() for d in o.get("swap_devices_used") or []]
    if any("swap_devices_used" in o for o in outcomes.values()):
        settings["swap_devices_used"] = used
    rungs, skipped = ladder.build(results, already_skipped={s.get("rung") for s in extra_skipped})
    skipped = extra_skipped + skipped
    run = {
        "context": context or {},
        "benchmarks": benchmarks,
        "pageladder": {
            "schema_version": SCHEMA_VERSION,
            "run_id": Path(run_dir).name,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine,
            "kernel": kernel,
            "settings": settings,
            "fingerprint": fingerprint.fingerprint(machine, kernel, settings),
            "harness": harness_settings,
            "binaries": [
                {"benchmark": name, "binary": o["binary"], "json": o.get("file"),
                 "seconds": round(o.get("seconds", 0.0), 3), "failed": o.get("failed"),
                 "invocations": o.get("invocations"), "incomplete": o.get("incomplete"),
                 # The CPUs its rows finished on (each row records sched_getcpu()).
                 "cpus": sorted({int(r["cpu"]) for r in benchmark_json.iteration_rows((results.get(name) or {}).get("rows", []))
                                 if isinstance(r.get("cpu"), (int, float))})}
                for name, o in outcomes.items()
            ],
            # Each row as its binary described it: labels, families and claims, so the ladder
            # can be rebuilt from run.json alone.
            "rows": row_descriptions,
            "statistics": ladder.STATISTICS,
            "skipped": skipped,
            "ladder": rungs,
            # What is read off the measurements, computed once, here (charts and report read it).
            "derived": {"tlb": sweep.derive(benchmarks, rungs)},
        },
    }
    if demand_paging is not None:
        if "failed" in demand_paging:
            skipped.append({"benchmark": "demand_paging", "reason": demand_paging["failed"]})
        else:
            run["pageladder"]["demand_paging"] = demand_paging
    write_json_atomically(Path(run_dir) / "run.json", run, sync=True)
    # The anatomy pass (ANATOMY=1) ran before the ladder was built: its phases' times per event,
    # their shares of the ladder's medians, are computed once, here.
    anatomy.add_phase_times(run_dir, ladder.valid_medians(run["pageladder"]))
    return run


def for_google_tools(rows, family_offset):
    """The rows as run.json's `benchmarks` keeps them, so Google Benchmark's tools read it
    cleanly: skipped rows left out (they have no time; `skipped` keeps their reasons), and
    family_index numbered across binaries instead of restarting in each."""
    kept = []
    for row in rows:
        if benchmark_json.skip_reason(row) is not None:
            continue
        if isinstance(row.get("family_index"), int):
            row = dict(row, family_index=row["family_index"] + family_offset)
        kept.append(row)
    return kept


def strict_json(value):
    """Google Benchmark writes NaN for some statistics of all-zero counters; JSON has no NaN."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict_json(v) for v in value]
    return value


def write_json_atomically(path, data, sync=False):
    """JSON without NaN (strict_json), written whole (safe_io); sync for run.json."""
    text = json.dumps(strict_json(data), indent=1, allow_nan=False) + "\n"
    safe_io.write_text_atomically(path, text, sync=sync)


class RunError(Exception):
    """A run folder or run.json that cannot be used; the message names the file and the problem."""


# The pageladder block's parts every reader relies on, and their JSON types.
_BLOCK_TYPES = {"run_id": str, "machine": dict, "kernel": dict, "settings": dict, "skipped": list,
                "ladder": list}


def load_run(run_dir):
    """A run folder's run.json, checked to be a pageladder run a reader can use: its file a
    regular JSON file of sane size, its block's parts of the right types, its run_id a plain
    name (it names compare's folders). RunError, naming the file, otherwise."""
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise RunError(f"{path}: missing (is {run_dir} a pageladder run folder?)")
    try:
        run = safe_io.load_json(path, "run.json")
    except safe_io.DataFileError as e:
        raise RunError(str(e)) from None
    block = run.get("pageladder")
    if not isinstance(block, dict):
        raise RunError(f"{path}: no 'pageladder' block (a plain Google Benchmark file?)")
    version = block.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RunError(f"{path}: schema_version {version!r}, this harness reads {SCHEMA_VERSION}")
    for key, kind in _BLOCK_TYPES.items():
        if key not in block:
            raise RunError(f"{path}: the pageladder block lacks '{key}'")
        if not isinstance(block[key], kind):
            raise RunError(f"{path}: the pageladder block's '{key}' is not a JSON {kind.__name__}")
    if not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in block["ladder"]):
        raise RunError(f"{path}: a rung of its ladder is not an object with an id")
    if not all(isinstance(s, dict) for s in block["skipped"]):
        raise RunError(f"{path}: an entry of 'skipped' is not an object")
    try:
        safe_io.safe_name(block["run_id"], "its run_id")
    except ValueError as e:
        raise RunError(f"{path}: {e}") from None
    if not isinstance(run.get("benchmarks", []), list):
        raise RunError(f"{path}: 'benchmarks' is not a JSON list")
    return run
