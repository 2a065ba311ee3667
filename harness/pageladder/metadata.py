"""The machine, kernel and settings a run was measured under (run.json's pageladder block).

A number is only worth comparing with another if we know what else was different, so this module
records everything that moves the cost of a fault or a page walk; fingerprint.py flattens the
part of it that `make compare` diffs between runs.

Facts are gathered once per run, without privileges, from two kinds of source:

- util-linux's JSON outputs (`lscpu -J`, `lscpu -C -J`, `findmnt -J`, `swapon --show --json`)
  where they exist, because they are a stable, documented format and know the corner cases
  (nested lscpu fields, bind mounts, overmounts, octal escapes) that hand parsing gets wrong;
- /proc and /sys otherwise, both for what the tools do not report (microcode, THP, zswap,
  cpufreq) and as the fallback when a tool is missing, too old (swapon gained --json in
  util-linux 2.40), times out or prints something unexpected.

Nothing here fails a run: a tool or file that cannot be read is recorded as None, never guessed.
`settings["fact_sources"]` says which source each tool-backed fact came from.

`root=` redirects every /proc and /sys read into a fake tree (the tests build one); the tools
cannot be redirected that way, so they all go through `_run_json`, which tests replace.
The binaries' own view (timer, PMU, counting mode) comes from their Google Benchmark context and
is merged in by `merge_binary_context`.
"""
import json
import os
import platform
import re
import socket
import subprocess
from pathlib import Path

from pageladder import cpu as cpu_facts

ROOT = Path("/")

# The tools answer in milliseconds; a hung one (a stale NFS mount under findmnt) must not hold
# up writing run.json.
TOOL_TIMEOUT_S = 5

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def _run_json(argv):
    """The parsed JSON a tool prints, or None when it is missing, fails, hangs or prints no JSON.

    No shell, and the C locale: lscpu translates its field names.
    """
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                              check=False, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None


def _read_path(path):
    try:
        return Path(path).read_text(errors="replace").strip()
    except OSError:
        return None


def _base(root):
    return Path(root) if root is not None else ROOT


def _read(path, root=None):
    return _read_path(_base(root) / str(path).lstrip("/"))


def selected(text):
    """'always [madvise] never' -> 'madvise'."""
    if text is None:
        return None
    m = re.search(r"\[([^\]]+)\]", text)
    return m.group(1) if m else text


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _cpu_list_count(text):
    """How many CPUs a kernel CPU list names: '0-1,4' -> 3."""
    if not text:
        return None
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        if _int(low) is None or (high and _int(high) is None):
            return None
        count += (int(high) - int(low) + 1) if high else 1
    return count


# ------------------------------------------------------------------------------------- mounts

def _unescape_mountinfo(text):
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mounts(root=None):
    """/proc/self/mountinfo as [{target, source, fstype, majmin}], in mount order."""
    entries = []
    for line in (_read("/proc/self/mountinfo", root) or "").splitlines():
        before, sep, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not sep or len(fields) < 5 or len(tail) < 2:
            continue
        entries.append({"target": _unescape_mountinfo(fields[4]), "source": _unescape_mountinfo(tail[1]),
                        "fstype": tail[0], "majmin": fields[2]})
    return entries


def cgroup_version(root=None):
    """'v2', 'v1', 'hybrid' (v1 controllers beside a v2 mount) or None, from mountinfo."""
    fstypes = {m["fstype"] for m in mounts(root)}
    v1, v2 = "cgroup" in fstypes, "cgroup2" in fstypes
    if v1 and v2:
        return "hybrid"
    return "v2" if v2 else "v1" if v1 else None


def mount_of(path, root=None):
    """The mount that holds path: the longest mount point above it, the topmost if overmounted."""
    best, best_key = None, None
    for order, mount in enumerate(mounts(root)):
        target = mount["target"]
        if path == target or path.startswith(target.rstrip("/") + "/"):
            key = (len(target), order)
            if best_key is None or key > best_key:
                best, best_key = mount, key
    return best


def _mount_from_findmnt(path):
    report = _run_json(["findmnt", "-J", "-T", path, "-o", "TARGET,SOURCE,FSTYPE,MAJ:MIN"])
    filesystems = report.get("filesystems") if isinstance(report, dict) else None
    if not filesystems or not isinstance(filesystems, list):
        return None
    # An overmounted point is listed once per mount, in mount order: the last one is visible.
    top = filesystems[-1]
    if not isinstance(top, dict) or not top.get("target"):
        return None
    return {"target": top.get("target"), "source": top.get("source"), "fstype": top.get("fstype"),
            "majmin": top.get("maj:min")}


def _rotational(majmin, source, root=None):
    """True for a spinning disk, False for flash, None when the source is not a block device.

    /sys/dev/block/<maj:min> finds the device whatever /dev calls it (dm, partitions); a
    partition has no queue of its own, so its disk's (the parent directory) answers.
    """
    base = _base(root) / "sys"
    candidates = []
    if majmin:
        candidates.append(base / "dev/block" / majmin)
    if source and source.startswith("/dev/"):
        candidates.append(base / "class/block" / Path(source).name)
    for device in candidates:
        # The OS resolves the /sys/dev/block link before "..", so ".." is the partition's disk.
        disk = device / ".." if (device / "partition").exists() else device
        value = _read_path(disk / "queue/rotational")
        if value in ("0", "1"):
            return value == "1"
    return None


def directory_facts(path, root=None):
    """({path, source, fstype, target, rotational}, source of the facts) for the mount under path."""
    mount, found_by = _mount_from_findmnt(str(path)), "findmnt"
    if mount is None:
        resolved = os.path.realpath(path) if root is None else os.path.normpath(str(path))
        mount, found_by = mount_of(resolved, root), "mountinfo"
    if mount is None:
        return {"path": str(path), "source": None, "fstype": None, "target": None,
                "rotational": None}, None
    # findmnt writes a bind mount's source as '/dev/vda[/srv/data]': the device is the first part.
    device = re.sub(r"\[.*\]$", "", mount.get("source") or "") or None
    return {"path": str(path), "source": device, "fstype": mount.get("fstype"),
            "target": mount.get("target"), "rotational": _rotational(mount.get("majmin"), device, root)
            }, found_by


# --------------------------------------------------------------------------------- memory, swap

def swap_devices(root=None):
    """([{name, type, size_kib, used_kib, priority}], source) of the swap active now."""
    report = _run_json(["swapon", "--show", "--json", "--bytes"])
    if isinstance(report, dict) and isinstance(report.get("swapdevices"), list):
        def kib(value):
            return _int(value) // KIB if _int(value) is not None else None
        return [{"name": d.get("name"), "type": d.get("type"), "size_kib": kib(d.get("size")),
                 "used_kib": kib(d.get("used")), "priority": _int(d.get("prio"))}
                for d in report["swapdevices"] if isinstance(d, dict)], "swapon"
    text = _read("/proc/swaps", root)
    devices = []
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            # /proc/swaps escapes spaces in names as \040, like mountinfo.
            devices.append({"name": _unescape_mountinfo(parts[0]), "type": parts[1],
                            "size_kib": _int(parts[2]), "used_kib": _int(parts[3]),
                            "priority": _int(parts[4])})
    return devices, "/proc/swaps" if text is not None else None


def vulnerabilities(root=None):
    base = _base(root) / "sys/devices/system/cpu/vulnerabilities"
    try:
        return {p.name: p.read_text().strip() for p in sorted(base.iterdir())}
    except OSError:
        return {}


def thp_settings(root=None):
    base = "/sys/kernel/mm/transparent_hugepage"
    settings = {
        "enabled": selected(_read(f"{base}/enabled", root)),
        "defrag": selected(_read(f"{base}/defrag", root)),
        "shmem_enabled": selected(_read(f"{base}/shmem_enabled", root)),
        "use_zero_page": _int(_read(f"{base}/use_zero_page", root)),
        "khugepaged_defrag": _int(_read(f"{base}/khugepaged/defrag", root)),
        "hpage_pmd_size": _int(_read(f"{base}/hpage_pmd_size", root)),
    }
    sizes = sorted((_base(root) / base.lstrip("/")).glob("hugepages-*kB"))
    settings["mthp"] = {d.name: selected(_read_path(d / "enabled")) for d in sizes}
    return settings


ZSWAP_PARAMETERS = ("enabled", "compressor", "zpool", "max_pool_percent")


def zswap(root=None):
    base = "/sys/module/zswap/parameters"
    return {k: _read(f"{base}/{k}", root) for k in ZSWAP_PARAMETERS}


# ------------------------------------------------------------------------------------ collect

def collect(root=None, directories=None):
    """(machine, kernel, settings) as plain JSON-ready dicts.

    directories: optional {name: path} (FILE_DIR and SWAP_DIR as "file_dir" and "swap_dir"),
    each recorded in settings["directories"][name] with the device and filesystem under it.
    """
    cpu, cpu_source = cpu_facts.cpu_facts(root)
    caches, caches_source = cpu_facts.cache_facts(root)
    flags = set(cpu["flags"])
    meminfo = _read("/proc/meminfo", root) or ""
    mem_total = re.search(r"MemTotal:\s+(\d+)", meminfo)
    hugepages = re.search(r"HugePages_Total:\s+(\d+)", meminfo)
    machine = {
        "hostname": socket.gethostname(),
        "architecture": platform.machine(),
        "cpu_model": cpu["model_name"],
        "cpu_vendor": cpu["vendor"],
        "cpu_family": cpu["family"],
        "cpu_model_number": cpu["model"],
        "cpu_stepping": cpu["stepping"],
        "microcode": cpu_facts.microcode(root),
        "cpus": os.cpu_count(),
        "threads_per_core": cpu["threads_per_core"],
        "caches": caches,
        "memory_total_kib": int(mem_total.group(1)) if mem_total else None,
        "hypervisor_flag": "hypervisor" in flags,
        "pcid": "pcid" in flags,
        "invpcid": "invpcid" in flags,
        "numa_nodes": len(list((_base(root) / "sys/devices/system/node").glob("node[0-9]*"))),
    }
    kernel = {
        "release": platform.release(),
        "version": platform.version(),
        "cmdline": _read("/proc/cmdline", root),
    }
    vulns = vulnerabilities(root)
    swaps, swaps_source = swap_devices(root)
    # One findmnt per distinct path: FILE_DIR and SWAP_DIR are usually the same directory.
    facts_by_path, directory_sources = {}, {}
    for name, path in (directories or {}).items():
        if path not in facts_by_path:
            facts_by_path[path] = directory_facts(path, root)
        directory_sources[name] = facts_by_path[path][1]
    settings = {
        "page_size": os.sysconf("SC_PAGESIZE"),
        "thp": thp_settings(root),
        "hugetlb_pages": int(hugepages.group(1)) if hugepages else None,
        "page_cluster": _int(_read("/proc/sys/vm/page-cluster", root)),
        "swappiness": _int(_read("/proc/sys/vm/swappiness", root)),
        "overcommit_memory": _int(_read("/proc/sys/vm/overcommit_memory", root)),
        "numa_balancing": _int(_read("/proc/sys/kernel/numa_balancing", root)),
        "randomize_va_space": _int(_read("/proc/sys/kernel/randomize_va_space", root)),
        "perf_event_paranoid": _int(_read("/proc/sys/kernel/perf_event_paranoid", root)),
        "swap_devices": swaps,
        "zswap": zswap(root),
        "cgroup_version": cgroup_version(root),
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource", root),
        "mitigations": vulns,
        "pti": "PTI" in (vulns.get("meltdown") or ""),
        # Readable only by root with debugfs mounted; None otherwise.
        "fault_around_bytes": _int(_read("/sys/kernel/debug/fault_around_bytes", root)),
        "governor": cpu_facts.governors(root),
        "boost": cpu_facts.boost(root),
        "smt": _read("/sys/devices/system/cpu/smt/control", root),
        "smt_active": _int(_read("/sys/devices/system/cpu/smt/active", root)),
        "directories": {name: dict(facts_by_path[path][0]) for name, path in (directories or {}).items()},
        "euid": os.geteuid(),
        "fact_sources": {"cpu": cpu_source, "caches": caches_source, "swap_devices": swaps_source,
                         "directories": directory_sources},
    }
    return machine, kernel, settings


# Binary context keys (see benchmarks/core/machine_context.cpp) that belong in settings.
CONTEXT_SETTINGS = {
    "pageladder_virtualization": "virtualization",
    "pageladder_timer": "timer",
    "pageladder_timer_reason": "timer_reason",
    "pageladder_timer_overhead_ns": "timer_overhead_ns",
    "pageladder_hw_counters": "pmu",
    "pageladder_counting_mode": "counting_mode",
    "pageladder_build_type": "build_type",
    "pageladder_compiler": "compiler",
}


def merge_binary_context(settings, context):
    for key, name in CONTEXT_SETTINGS.items():
        if key in context and name not in settings:
            value = context[key]
            settings[name] = float(value) if name == "timer_overhead_ns" else value
    if "library_build_type" in context:
        settings.setdefault("google_benchmark_library_build_type", context["library_build_type"])
    return settings
