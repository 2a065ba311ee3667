"""How swap_in_bench runs under `make bench`: one phase per kind of swap, each with only that
kind receiving swap-outs (the highest-priority device takes them), provisioned for the phase and
removed after it, then the phases' JSON merged into swap_in_bench.json. Which rows run in which
phase, the binary says (each row's `swap_device`)."""
import contextlib
from pathlib import Path

from pageladder import benchmark_json, metadata, rows, swap_devices, system

SIZES = {"zram": 512 << 20, "disk": 256 << 20}


def is_zram(name):
    """Whether a swap device is zram, by its path: the harness's one rule for it (the binary's
    is in swap_in_bench.cpp, which reads the same /proc/swaps names)."""
    return Path(name).name.startswith("zram")


def _existing(kind):
    """An active swap device of this kind the machine already had, if any (it is used as is)."""
    for name in system.active_swaps():
        if (kind == "zram") == is_zram(name) and not Path(name).name.startswith("pageladder-"):
            return name
    return None


def _provision(kind, swap_dir):
    if _existing(kind):
        return contextlib.nullcontext(_existing(kind))
    if kind == "zram":
        return swap_devices.zram_swap(SIZES["zram"])
    return swap_devices.swap_file(swap_dir, SIZES["disk"])


def device_facts(name):
    """What the fingerprint records of a swap device the rows used, read while it exists:
    {"kind": zram|file|partition, "name", "size_bytes", "priority", "fstype" (files)}."""
    devices, _ = metadata.swap_devices()
    found = next((d for d in devices if d.get("name") == name), {})
    kind = "zram" if is_zram(name) else "file" if found.get("type") == "file" else "partition"
    facts = {"kind": kind, "name": name, "priority": found.get("priority"),
             "size_bytes": found["size_kib"] * 1024 if found.get("size_kib") is not None else None}
    if kind == "file":
        facts["fstype"] = metadata.directory_facts(str(Path(name).parent))[0].get("fstype")
    return facts


def _top_device():
    devices, _ = metadata.swap_devices()
    return max(devices, key=lambda d: d.get("priority") or 0)["name"] if devices else None


def phases(described):
    """[(kind of swap device, the ids of the rows that need it)], in ladder order."""
    kinds = []
    for rung_id in rows.ids_where(described):
        kind = described[rung_id].get("swap_device")
        if kind and kind not in kinds:
            kinds.append(kind)
    return [(kind, rows.ids_where(described, swap_device=kind)) for kind in kinds]


def run(bench, run_binary, run_dir, swap_dir, no_system_changes, build_dir):
    """run_binary(extra_args, out_name) -> exit status. Returns (failed reason or None, skipped,
    facts of the swap devices the rows used)."""
    out = Path(run_dir) / f"{bench.binary}.json"
    if no_system_changes or not system.is_root():
        top = _top_device()
        status = run_binary(["--pageladder_no_system_changes"] if no_system_changes else [], out.name)
        return (None if status == 0 else f"{bench.binary} exited with status {status}"), [], \
            [device_facts(top)] if top else []
    try:
        described = rows.describe(Path(build_dir) / "benchmarks" / bench.binary)
    except ValueError as e:
        return str(e), [], []
    skipped, parts, used = [], [], []
    for kind, phase_rows in phases(described):
        part = f"{bench.binary}.{kind}.json"
        try:
            with _provision(kind, swap_dir) as device:
                print(f"      swap for the {kind} rows: {device}", flush=True)
                used.append(device_facts(device))
                status = run_binary([f"--benchmark_filter={rows.run_filter(phase_rows)}"], part)
        except system.SystemChangeError as e:
            skipped += [{"rung": rung_id, "reason": str(e)} for rung_id in phase_rows]
            continue
        if status != 0:
            return f"{bench.binary} exited with status {status} ({kind} phase)", skipped, used
        parts.append(Path(run_dir) / part)
    benchmark_json.merge(parts, out, tag_invocations=False)
    for path in parts:
        path.unlink()
    return None, skipped, used
