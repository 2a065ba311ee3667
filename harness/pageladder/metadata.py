"""The machine, kernel and settings a run was measured under (run.json's pageladder block).

Everything here is read from /proc and /sys without privileges; a file that cannot be read is
recorded as None rather than guessed. The binaries' own view (timer, PMU, THP mode they saw)
comes from their Google Benchmark context and is merged in by collect.py.
"""
import os
import platform
import re
import socket
from pathlib import Path

ROOT = Path("/")


def _read_path(path):
    try:
        return Path(path).read_text(errors="replace").strip()
    except OSError:
        return None


def _read(path, root=None):
    return _read_path((root or ROOT) / str(path).lstrip("/"))


def _selected(text):
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


def cpuinfo(root=None):
    text = _read("/proc/cpuinfo", root) or ""
    first = {}
    for line in text.splitlines():
        if not line.strip():
            if first:
                break
            continue
        key, _, value = line.partition(":")
        first[key.strip()] = value.strip()
    return first


def cgroup_version(root=None):
    """'v2', 'v1', 'hybrid' (v1 controllers beside a v2 mount) or None, from mountinfo."""
    text = _read("/proc/self/mountinfo", root) or ""
    v1 = v2 = False
    for line in text.splitlines():
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        fstype = fields[1].split()[0]
        v1 |= fstype == "cgroup"
        v2 |= fstype == "cgroup2"
    if v1 and v2:
        return "hybrid"
    return "v2" if v2 else "v1" if v1 else None


def swap_devices(root=None):
    text = _read("/proc/swaps", root) or ""
    devices = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            devices.append({"name": parts[0], "type": parts[1], "size_kib": _int(parts[2]),
                            "used_kib": _int(parts[3]), "priority": _int(parts[4])})
    return devices


def vulnerabilities(root=None):
    base = (root or ROOT) / "sys/devices/system/cpu/vulnerabilities"
    try:
        return {p.name: p.read_text().strip() for p in sorted(base.iterdir())}
    except OSError:
        return {}


def thp_settings(root=None):
    base = "/sys/kernel/mm/transparent_hugepage"
    settings = {
        "enabled": _selected(_read(f"{base}/enabled", root)),
        "defrag": _selected(_read(f"{base}/defrag", root)),
        "shmem_enabled": _selected(_read(f"{base}/shmem_enabled", root)),
        "use_zero_page": _int(_read(f"{base}/use_zero_page", root)),
        "khugepaged_defrag": _int(_read(f"{base}/khugepaged/defrag", root)),
        "hpage_pmd_size": _int(_read(f"{base}/hpage_pmd_size", root)),
    }
    sizes = sorted(((root or ROOT) / base.lstrip("/")).glob("hugepages-*kB"))
    settings["mthp"] = {d.name: _selected(_read_path(d / "enabled")) for d in sizes}
    return settings


def zswap(root=None):
    base = "/sys/module/zswap/parameters"
    return {k: _read(f"{base}/{k}", root) for k in ("enabled", "compressor", "zpool", "max_pool_percent")}


def collect(root=None):
    """(machine, kernel, settings) as plain JSON-ready dicts."""
    cpu = cpuinfo(root)
    flags = set(cpu.get("flags", "").split())
    meminfo = _read("/proc/meminfo", root) or ""
    mem_total = re.search(r"MemTotal:\s+(\d+)", meminfo)
    hugepages = re.search(r"HugePages_Total:\s+(\d+)", meminfo)
    machine = {
        "hostname": socket.gethostname(),
        "architecture": platform.machine(),
        "cpu_model": cpu.get("model name"),
        "cpu_vendor": cpu.get("vendor_id"),
        "cpu_family": _int(cpu.get("cpu family")),
        "cpu_model_number": _int(cpu.get("model")),
        "cpu_stepping": _int(cpu.get("stepping")),
        "microcode": cpu.get("microcode"),
        "cpus": os.cpu_count(),
        "memory_total_kib": int(mem_total.group(1)) if mem_total else None,
        "hypervisor_flag": "hypervisor" in flags,
        "pcid": "pcid" in flags,
        "invpcid": "invpcid" in flags,
        "numa_nodes": len(list(((root or ROOT) / "sys/devices/system/node").glob("node[0-9]*"))),
    }
    kernel = {
        "release": platform.release(),
        "version": platform.version(),
        "cmdline": _read("/proc/cmdline", root),
    }
    vulns = vulnerabilities(root)
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
        "swap_devices": swap_devices(root),
        "zswap": zswap(root),
        "cgroup_version": cgroup_version(root),
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource", root),
        "mitigations": vulns,
        "pti": "PTI" in (vulns.get("meltdown") or ""),
        "fault_around_bytes": _int(_read("/sys/kernel/debug/fault_around_bytes", root)),
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", root),
        "boost": _read("/sys/devices/system/cpu/cpufreq/boost", root),
        "smt": _read("/sys/devices/system/cpu/smt/control", root),
        "euid": os.geteuid(),
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


def fingerprint(machine, kernel, settings):
    """The fields that change these costs, flattened: what `compare` checks for differences."""
    return {
        "cpu_model": machine.get("cpu_model"),
        "microcode": machine.get("microcode"),
        "cpus": machine.get("cpus"),
        "virtualization": settings.get("virtualization"),
        "kernel_release": kernel.get("release"),
        "kernel_cmdline": kernel.get("cmdline"),
        "thp_enabled": (settings.get("thp") or {}).get("enabled"),
        "thp_defrag": (settings.get("thp") or {}).get("defrag"),
        "page_size": settings.get("page_size"),
        "pti": settings.get("pti"),
        "mitigations": ";".join(f"{k}={v}" for k, v in sorted((settings.get("mitigations") or {}).items())),
        "page_cluster": settings.get("page_cluster"),
        "swap_devices": ",".join(d["name"] for d in settings.get("swap_devices") or []),
        "zswap_enabled": (settings.get("zswap") or {}).get("enabled"),
        "cgroup_version": settings.get("cgroup_version"),
        "clocksource": settings.get("clocksource"),
        "timer": settings.get("timer"),
        "pmu": settings.get("pmu"),
    }
