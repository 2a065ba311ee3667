"""The CPU a run measured on: model, vendor, family, microcode, caches, threads per core,
governors and boost, from `lscpu -J` (and `-C -J` for the caches) where util-linux has them, else
/proc/cpuinfo and /sys. metadata.collect gathers them with the rest; the tools and files are read
through metadata's helpers (which the tests redirect into a fake tree)."""
import re

from pageladder import metadata


def cpuinfo(root=None):
    """The first processor's block of /proc/cpuinfo as {key: value}."""
    text = metadata._read("/proc/cpuinfo", root) or ""
    first = {}
    for line in text.splitlines():
        if not line.strip():
            if first:
                break
            continue
        key, _, value = line.partition(":")
        first[key.strip()] = value.strip()
    return first


def _lscpu_fields(entries):
    """lscpu -J's entries as {field: data}, field without its colon.

    util-linux 2.38 prints a flat list; 2.39 and later nest fields under their parent ("Model
    name" under "Vendor ID") in "children", so walk the tree.
    """
    fields = {}
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("field", "")).strip().rstrip(":")
        if name and name not in fields:
            fields[name] = entry.get("data")
        for key, value in _lscpu_fields(entry.get("children")).items():
            fields.setdefault(key, value)
    return fields


def _threads_per_core_from_sysfs(root=None):
    siblings = metadata._read("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list", root)
    return metadata._cpu_list_count(siblings)


def cpu_facts(root=None):
    """({model_name, vendor, family, model, stepping, flags, threads_per_core}, source)."""
    report = metadata._run_json(["lscpu", "-J"])
    fields = _lscpu_fields(report.get("lscpu")) if isinstance(report, dict) else {}
    if fields.get("Model name") or fields.get("Vendor ID"):
        return _cpu(fields, LSCPU_NAMES, metadata._int(fields.get("Thread(s) per core"))), "lscpu"
    cpu = cpuinfo(root)
    threads = _threads_per_core_from_sysfs(root)
    if threads is None and metadata._int(cpu.get("siblings")) and metadata._int(cpu.get("cpu cores")):
        # x86 cpuinfo: logical CPUs per package over cores per package.
        threads = metadata._int(cpu["siblings"]) // metadata._int(cpu["cpu cores"])
    return _cpu(cpu, CPUINFO_NAMES, threads), "/proc/cpuinfo" if cpu else None


# What each CPU fact is called by lscpu and by /proc/cpuinfo.
LSCPU_NAMES = {"model_name": "Model name", "vendor": "Vendor ID", "family": "CPU family",
               "model": "Model", "stepping": "Stepping", "flags": "Flags"}
CPUINFO_NAMES = {"model_name": "model name", "vendor": "vendor_id", "family": "cpu family",
                 "model": "model", "stepping": "stepping", "flags": "flags"}


def _cpu(fields, names, threads_per_core):
    facts = {key: fields.get(name) for key, name in names.items()}
    for key in ("family", "model", "stepping"):
        facts[key] = metadata._int(facts[key])
    facts["flags"] = (facts["flags"] or "").split()
    facts["threads_per_core"] = threads_per_core
    return facts


def microcode(root=None):
    """The CPU's microcode revision; lscpu does not report it."""
    return (metadata._read("/sys/devices/system/cpu/cpu0/microcode/version", root)
            or cpuinfo(root).get("microcode"))


def _size_bytes(text):
    """'48K' (sysfs cache size) or '49152' (lscpu --bytes) -> bytes."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", str(text))
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": metadata.KIB, "M": metadata.MIB, "G": metadata.GIB}[m.group(2)]


def cache_facts(root=None):
    """([{name, level, type, size_bytes, ways, line_bytes}], source), one entry per cache level.

    size_bytes is one instance's size (what one core sees), not the sum over all of them.
    """
    report = metadata._run_json(["lscpu", "-C", "-J", "--bytes"])
    if isinstance(report, dict) and isinstance(report.get("caches"), list):
        return [{
            "name": c.get("name"),
            "level": metadata._int(c.get("level")),
            "type": c.get("type"),
            "size_bytes": _size_bytes(c.get("one-size")),
            "ways": metadata._int(c.get("ways")),
            "line_bytes": metadata._int(c.get("coherency-size")),
        } for c in report["caches"] if isinstance(c, dict)], "lscpu"
    base = metadata._base(root) / "sys/devices/system/cpu/cpu0/cache"
    caches = []
    for index in sorted(base.glob("index[0-9]*")):
        level, kind = metadata._int(metadata._read_path(index / "level")), metadata._read_path(index / "type")
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        caches.append({
            "name": f"L{level}{suffix}" if level is not None else None,
            "level": level,
            "type": kind,
            "size_bytes": _size_bytes(metadata._read_path(index / "size")),
            "ways": metadata._int(metadata._read_path(index / "ways_of_associativity")),
            "line_bytes": metadata._int(metadata._read_path(index / "coherency_line_size")),
        })
    return caches, "sysfs" if caches else None


def governors(root=None):
    """The cpufreq governors in use, 'performance' or 'performance,powersave' if they differ."""
    base = metadata._base(root) / "sys/devices/system/cpu"
    names = {metadata._read_path(cpu / "cpufreq/scaling_governor") for cpu in base.glob("cpu[0-9]*")}
    names.discard(None)
    return ",".join(sorted(names)) or None


def boost(root=None):
    """'on', 'off' or None: whether the CPU may clock above its base frequency.

    acpi-cpufreq has a global switch; intel_pstate says the opposite (no_turbo); amd-pstate
    has one per policy.
    """
    for path, on in (("/sys/devices/system/cpu/cpufreq/boost", "1"),
                     ("/sys/devices/system/cpu/intel_pstate/no_turbo", "0"),
                     ("/sys/devices/system/cpu/cpufreq/policy0/boost", "1")):
        value = metadata._read(path, root)
        if value in ("0", "1"):
            return "on" if value == on else "off"
    return None


