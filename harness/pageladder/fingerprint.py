"""What `make compare` diffs between runs, and how a run's times were made: the fingerprint (the
settings that decide these costs, flattened to comparable text) and the emulation a guest's times
carry. The facts themselves are gathered by metadata.py."""
import re

from pageladder.metadata import GIB, KIB, MIB, ZSWAP_PARAMETERS, _int


def _pairs(values, keys):
    """'k1=v1,k2=v2' for the keys that are known (newer kernels dropped zswap's zpool), or None."""
    known = [k for k in keys if (values or {}).get(k) is not None]
    return ",".join(f"{k}={values[k]}" for k in known) or None


def _mthp_text(mthp):
    """{'hugepages-2048kB': 'madvise', 'hugepages-64kB': 'never'} -> '64kB=never,2048kB=madvise'.

    A size without an anonymous setting (8kB on some kernels is for shmem only) is left out.
    """
    def size_kb(name):
        return _int(re.sub(r"\D", "", name)) or 0
    anonymous = sorted((name for name, mode in (mthp or {}).items() if mode is not None), key=size_kb)
    return ",".join(f"{name.removeprefix('hugepages-')}={mthp[name]}" for name in anonymous) or None


def _size_text(size_bytes):
    """Swap sizes as people say them: whole GiB, else MiB (a swap area loses a header page)."""
    if size_bytes is None:
        return None
    if size_bytes >= GIB and size_bytes % GIB == 0:
        return f"{size_bytes // GIB}GiB"
    if size_bytes >= MIB:
        return f"{round(size_bytes / MIB)}MiB"
    return f"{round(size_bytes / KIB)}KiB"


def _swap_used_text(devices):
    """The swap the swap rows ran on, without names: 'zram:512MiB,file(ext4):256MiB'.

    The names are left out on purpose: the temporary swap file's name carries the pid, which
    would make every run look different from every other.
    """
    if devices is None:
        return None
    if not devices:
        return "none"
    parts = []
    for device in devices:
        kind = device.get("kind") or "unknown"
        if device.get("fstype"):
            kind += f"({device['fstype']})"
        size = _size_text(device.get("size_bytes"))
        parts.append(f"{kind}:{size}" if size else kind)
    return ",".join(parts)


def fingerprint(machine, kernel, settings):
    """The fields that change these costs, flattened: what `compare` checks for differences.

    Every value is a scalar or None; None on both sides of a comparison is not a difference.
    """
    directories = settings.get("directories") or {}
    file_dir, swap_dir = directories.get("file_dir") or {}, directories.get("swap_dir") or {}
    return {
        "cpu_model": machine.get("cpu_model"),
        "microcode": machine.get("microcode"),
        "cpus": machine.get("cpus"),
        "virtualization": settings.get("virtualization"),
        "kernel_release": kernel.get("release"),
        "kernel_cmdline": kernel.get("cmdline"),
        "thp_enabled": (settings.get("thp") or {}).get("enabled"),
        "thp_defrag": (settings.get("thp") or {}).get("defrag"),
        "mthp_enabled": _mthp_text((settings.get("thp") or {}).get("mthp")),
        "page_size": settings.get("page_size"),
        "pti": settings.get("pti"),
        "mitigations": ";".join(f"{k}={v}" for k, v in sorted((settings.get("mitigations") or {}).items())),
        "governor": settings.get("governor"),
        "boost": settings.get("boost"),
        "smt": _pairs({"control": settings.get("smt"), "active": settings.get("smt_active")},
                      ("control", "active")),
        "page_cluster": settings.get("page_cluster"),
        "fault_around_bytes": settings.get("fault_around_bytes"),
        "swap_devices": ",".join(d["name"] for d in settings.get("swap_devices") or []),
        "swap_devices_used": _swap_used_text(settings.get("swap_devices_used")),
        "zswap_enabled": (settings.get("zswap") or {}).get("enabled"),
        "zswap": _pairs(settings.get("zswap"), ZSWAP_PARAMETERS),
        "file_dir_device": file_dir.get("source"),
        "file_dir_fstype": file_dir.get("fstype"),
        "swap_dir_device": swap_dir.get("source"),
        "swap_dir_fstype": swap_dir.get("fstype"),
        "cgroup_version": settings.get("cgroup_version"),
        "clocksource": settings.get("clocksource"),
        "timer": settings.get("timer"),
        "pmu": settings.get("pmu"),
        "counting_mode": settings.get("counting_mode"),
        "guest": _guest_text(settings.get("guest")),
    }


def emulation(settings):
    """'tcg, 2 CPUs, 4096 MiB' when a run's times were made under software emulation (a guest
    under qemu's TCG, guests/machine.py), None for hardware speed (this machine, a KVM guest)."""
    guest = settings.get("guest") or {}
    if guest.get("accel") in (None, "kvm"):
        return None
    # The host's CPU and the emulator decide emulated times, not the guest's CPUID (qemu's
    # "max" CPU looks the same on every host).
    host = guest.get("host") or {}
    return (f"{guest.get('accel')}, {guest.get('cpus')} CPUs, {guest.get('memory_mib')} MiB, "
            f"qemu {guest.get('qemu')} on {host.get('cpu_model')}")


def guest_summary(guest):
    """One line on the guest a run was made in, for the report; 'none' on the machine itself."""
    if not guest:
        return "none (measured on the machine itself)"
    kernel, host = guest.get("kernel") or {}, guest.get("host") or {}
    return (f"qemu {guest.get('qemu')} {str(guest.get('accel')).upper()} ({guest.get('accel_reason')}), "
            f"{guest.get('cpus')} CPUs, {guest.get('memory_mib')} MiB, cgroup {guest.get('cgroup')}; "
            f"kernel {kernel.get('package') or kernel.get('requested')}; host {host.get('hostname')} "
            f"({host.get('kernel_release')})")


def _guest_text(guest):
    """'tcg, 2 CPUs, 4096 MiB, cgroup v2' for a run in a guest (guests/), None on the machine."""
    if not guest:
        return None
    return (f"{guest.get('accel')}, {guest.get('cpus')} CPUs, {guest.get('memory_mib')} MiB, "
            f"cgroup {guest.get('cgroup')}")
