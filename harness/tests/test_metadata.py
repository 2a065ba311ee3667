"""metadata.collect and fingerprint.fingerprint on a fake /proc and /sys tree and fake util-linux tools.

Nothing here depends on the machine the tests run on: files are read from a tree built in
tmp_path (collect's root=) and every util-linux call goes through metadata._run_json, which the
`tools` fixture replaces with canned JSON (an unknown command answers None, as a missing tool does).
"""
import json
import sys
from types import SimpleNamespace

import pytest

from pageladder import compare, fingerprint, metadata

# util-linux 2.38's `lscpu -J`: a flat list of "field:"/"data" pairs (trimmed).
LSCPU_2_38 = {"lscpu": [
    {"field": "Architecture:", "data": "x86_64"},
    {"field": "Vendor ID:", "data": "GenuineIntel"},
    {"field": "Model name:", "data": "Intel(R) Xeon(R) Gold 6338"},
    {"field": "CPU family:", "data": "6"},
    {"field": "Model:", "data": "106"},
    {"field": "Thread(s) per core:", "data": "2"},
    {"field": "Stepping:", "data": "6"},
    {"field": "Flags:", "data": "fpu pse pcid invpcid hypervisor"},
]}

# util-linux 2.39+ nests fields under their parent in "children".
LSCPU_2_39_NESTED = {"lscpu": [
    {"field": "Architecture:", "data": "x86_64"},
    {"field": "Vendor ID:", "data": "AuthenticAMD", "children": [
        {"field": "Model name:", "data": "AMD EPYC 7B13", "children": [
            {"field": "CPU family:", "data": "25"},
            {"field": "Model:", "data": "1"},
            {"field": "Thread(s) per core:", "data": "1"},
            {"field": "Stepping:", "data": "0"},
            {"field": "Flags:", "data": "fpu pse"},
        ]},
    ]},
]}

# `lscpu -C -J --bytes`
LSCPU_CACHES = {"caches": [
    {"name": "L1d", "one-size": "49152", "all-size": "98304", "ways": 12, "type": "Data", "level": 1,
     "sets": 64, "phy-line": 1, "coherency-size": 64},
    {"name": "L2", "one-size": "2097152", "all-size": "4194304", "ways": 16, "type": "Unified",
     "level": 2, "sets": 2048, "phy-line": 1, "coherency-size": 64},
]}

# util-linux 2.40's `swapon --show --json --bytes`.
SWAPON_JSON = {"swapdevices": [
    {"name": "/dev/zram0", "type": "partition", "size": 536866816, "used": 4096, "prio": 100},
    {"name": "/var/tmp/pageladder-swap-4242", "type": "file", "size": 268431360, "used": 0, "prio": -2},
]}

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 23
model\t\t: 49
model name\t: AMD EPYC 7742 64-Core Processor
stepping\t: 0
microcode\t: 0x830107a
siblings\t: 4
cpu cores\t: 2
flags\t\t: fpu pcid hypervisor

processor\t: 1
model name\t: a second CPU that must not be read
"""

MOUNTINFO = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 8:1 / /srv/fast rw,relatime - xfs /dev/sda1 rw
41 27 0:40 / /srv/fast\040disk rw,relatime - tmpfs tmpfs rw
42 27 0:41 / /tmp rw,relatime - tmpfs tmpfs rw
43 27 0:42 / /tmp rw,relatime - tmpfs overmount rw
50 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

PROC_SWAPS = """Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
/dev/zram0                              partition\t524284\t\t0\t\t100
/var/tmp/swap\\040file                   file\t\t262140\t\t0\t\t-2
"""


def build_tree(base, files):
    for path, content in files.items():
        target = base / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return base


@pytest.fixture
def tools(monkeypatch):
    """Fake util-linux: set answers["lscpu"], ["lscpu -C"], ["swapon"] or ["findmnt <path>"]."""
    fake = SimpleNamespace(answers={}, calls=[])

    def key(argv):
        if argv[0] == "lscpu":
            return "lscpu -C" if "-C" in argv else "lscpu"
        if argv[0] == "findmnt":
            return f"findmnt {argv[argv.index('-T') + 1]}"
        return argv[0]

    def run_json(argv):
        fake.calls.append(key(argv))
        answer = fake.answers.get(key(argv))
        return json.loads(json.dumps(answer)) if answer is not None else None

    monkeypatch.setattr(metadata, "_run_json", run_json)
    return fake


@pytest.fixture
def machine_tree(tmp_path):
    """A fake / with the /proc and /sys files collect reads: a 2-thread AMD host with swap,
    mTHP, zswap, intel_pstate-style turbo off, SMT on, and an ext4 root on a spinning disk."""
    root = build_tree(tmp_path / "root", {
        "/proc/cpuinfo": CPUINFO,
        "/proc/meminfo": "MemTotal:       16384000 kB\nHugePages_Total:       0\n",
        "/proc/cmdline": "quiet mitigations=off",
        "/proc/swaps": PROC_SWAPS,
        "/proc/self/mountinfo": MOUNTINFO,
        "/proc/sys/vm/page-cluster": "3",
        "/proc/sys/vm/swappiness": "60",
        "/sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never",
        "/sys/kernel/mm/transparent_hugepage/defrag": "[always] defer madvise never",
        "/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/enabled": "always inherit [madvise] never",
        "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled": "always inherit madvise [never]",
        "/sys/kernel/mm/transparent_hugepage/hugepages-8kB/shmem_enabled": "[never]",
        "/sys/module/zswap/parameters/enabled": "Y",
        "/sys/module/zswap/parameters/compressor": "zstd",
        "/sys/module/zswap/parameters/zpool": "zsmalloc",
        "/sys/module/zswap/parameters/max_pool_percent": "20",
        "/sys/devices/system/cpu/vulnerabilities/meltdown": "Mitigation: PTI",
        "/sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc",
        "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance",
        "/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": "performance",
        "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list": "0-1",
        "/sys/devices/system/cpu/intel_pstate/no_turbo": "1",
        "/sys/devices/system/cpu/smt/control": "on",
        "/sys/devices/system/cpu/smt/active": "1",
        "/sys/devices/system/cpu/cpu0/cache/index0/level": "1",
        "/sys/devices/system/cpu/cpu0/cache/index0/type": "Data",
        "/sys/devices/system/cpu/cpu0/cache/index0/size": "32K",
        "/sys/devices/system/cpu/cpu0/cache/index0/ways_of_associativity": "8",
        "/sys/devices/system/cpu/cpu0/cache/index0/coherency_line_size": "64",
        "/sys/kernel/debug/fault_around_bytes": "65536",
        "/sys/dev/block/254:0/queue/rotational": "1",
        "/sys/devices/platform/block/sda/queue/rotational": "0",
        "/sys/devices/platform/block/sda/sda1/partition": "1",
    })
    # A partition's /sys/dev/block entry is a link into its disk's directory, as on a real system.
    (root / "sys/dev/block/8:1").symlink_to(root / "sys/devices/platform/block/sda/sda1")
    return root


# ------------------------------------------------------------------------------- CPU facts

def test_lscpu_json_gives_cpu_facts(machine_tree, tools):
    tools.answers["lscpu"] = LSCPU_2_38
    machine, _, settings = metadata.collect(machine_tree)
    assert machine["cpu_model"] == "Intel(R) Xeon(R) Gold 6338"
    assert machine["cpu_vendor"] == "GenuineIntel"
    assert (machine["cpu_family"], machine["cpu_model_number"], machine["cpu_stepping"]) == (6, 106, 6)
    assert machine["threads_per_core"] == 2
    assert machine["pcid"] and machine["invpcid"] and machine["hypervisor_flag"]
    assert settings["fact_sources"]["cpu"] == "lscpu"


def test_lscpu_nested_children_of_util_linux_2_39(machine_tree, tools):
    tools.answers["lscpu"] = LSCPU_2_39_NESTED
    machine, _, _ = metadata.collect(machine_tree)
    assert machine["cpu_model"] == "AMD EPYC 7B13"
    assert machine["cpu_vendor"] == "AuthenticAMD"
    assert (machine["cpu_family"], machine["cpu_model_number"], machine["cpu_stepping"]) == (25, 1, 0)
    assert machine["threads_per_core"] == 1
    assert not machine["pcid"]


def test_lscpu_missing_falls_back_to_proc_cpuinfo(machine_tree, tools):
    machine, _, settings = metadata.collect(machine_tree)
    assert "lscpu" in tools.calls
    assert machine["cpu_model"] == "AMD EPYC 7742 64-Core Processor"
    assert machine["cpu_vendor"] == "AuthenticAMD"
    assert (machine["cpu_family"], machine["cpu_model_number"], machine["cpu_stepping"]) == (23, 49, 0)
    assert machine["threads_per_core"] == 2  # from topology/thread_siblings_list "0-1"
    assert machine["pcid"] and not machine["invpcid"]
    assert settings["fact_sources"]["cpu"] == "/proc/cpuinfo"


def test_lscpu_unexpected_output_falls_back_to_proc_cpuinfo(machine_tree, tools):
    tools.answers["lscpu"] = {"something": "else"}
    machine, _, _ = metadata.collect(machine_tree)
    assert machine["cpu_model"] == "AMD EPYC 7742 64-Core Processor"


def test_threads_per_core_from_cpuinfo_siblings_without_topology(machine_tree, tools):
    (machine_tree / "sys/devices/system/cpu/cpu0/topology/thread_siblings_list").unlink()
    machine, _, _ = metadata.collect(machine_tree)
    assert machine["threads_per_core"] == 2  # siblings 4 / cpu cores 2


def test_microcode_read_even_when_lscpu_answers(machine_tree, tools):
    tools.answers["lscpu"] = LSCPU_2_38
    machine, _, _ = metadata.collect(machine_tree)
    assert machine["microcode"] == "0x830107a"


def test_caches_from_lscpu_json(machine_tree, tools):
    tools.answers["lscpu -C"] = LSCPU_CACHES
    machine, _, settings = metadata.collect(machine_tree)
    assert machine["caches"] == [
        {"name": "L1d", "level": 1, "type": "Data", "size_bytes": 49152, "ways": 12, "line_bytes": 64},
        {"name": "L2", "level": 2, "type": "Unified", "size_bytes": 2097152, "ways": 16, "line_bytes": 64},
    ]
    assert settings["fact_sources"]["caches"] == "lscpu"


def test_caches_fall_back_to_sysfs(machine_tree, tools):
    machine, _, _ = metadata.collect(machine_tree)
    assert machine["caches"] == [
        {"name": "L1d", "level": 1, "type": "Data", "size_bytes": 32768, "ways": 8, "line_bytes": 64}]


# ------------------------------------------------------------------- cpufreq, SMT, settings

def test_existing_settings_keys_still_there(machine_tree, tools):
    machine, kernel, settings = metadata.collect(machine_tree)
    assert kernel["cmdline"] == "quiet mitigations=off"
    assert settings["thp"]["enabled"] == "madvise"
    assert settings["thp"]["mthp"]["hugepages-64kB"] == "never"
    assert settings["zswap"] == {"enabled": "Y", "compressor": "zstd", "zpool": "zsmalloc",
                                 "max_pool_percent": "20"}
    assert settings["mitigations"] == {"meltdown": "Mitigation: PTI"}
    assert settings["pti"] is True
    assert settings["clocksource"] == "tsc"
    assert settings["page_cluster"] == 3
    assert settings["cgroup_version"] == "v2"
    assert machine["memory_total_kib"] == 16384000


def test_governor_boost_smt_and_fault_around(machine_tree, tools):
    _, _, settings = metadata.collect(machine_tree)
    assert settings["governor"] == "performance"
    assert settings["boost"] == "off"  # intel_pstate no_turbo=1 means turbo is off
    assert (settings["smt"], settings["smt_active"]) == ("on", 1)
    assert settings["fault_around_bytes"] == 65536


def test_mixed_governors_are_all_named(machine_tree, tools):
    (machine_tree / "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor").write_text("powersave")
    _, _, settings = metadata.collect(machine_tree)
    assert settings["governor"] == "performance,powersave"


def test_acpi_cpufreq_boost_switch(machine_tree, tools):
    build_tree(machine_tree, {"/sys/devices/system/cpu/cpufreq/boost": "1"})
    _, _, settings = metadata.collect(machine_tree)
    assert settings["boost"] == "on"


def test_unreadable_files_are_none_not_guesses(tmp_path, tools):
    machine, _, settings = metadata.collect(tmp_path)
    assert machine["cpu_model"] is None and machine["threads_per_core"] is None
    assert settings["governor"] is None and settings["boost"] is None and settings["smt"] is None
    assert settings["swap_devices"] == [] and settings["fact_sources"]["swap_devices"] is None
    assert settings["directories"] == {}


# ------------------------------------------------------------------------- directories

def test_findmnt_json_gives_directory_facts(machine_tree, tools):
    tools.answers["findmnt /srv/data"] = {"filesystems": [
        {"target": "/srv", "source": "/dev/vda[/srv]", "fstype": "ext4", "maj:min": "254:0"}]}
    _, _, settings = metadata.collect(machine_tree, directories={"file_dir": "/srv/data"})
    assert settings["directories"]["file_dir"] == {
        "path": "/srv/data", "source": "/dev/vda", "fstype": "ext4", "target": "/srv", "rotational": True}
    assert settings["fact_sources"]["directories"] == {"file_dir": "findmnt"}


def test_findmnt_overmount_takes_the_visible_mount(machine_tree, tools):
    tools.answers["findmnt /tmp"] = {"filesystems": [
        {"target": "/tmp", "source": "tmpfs", "fstype": "tmpfs", "maj:min": "0:41"},
        {"target": "/tmp", "source": "/dev/sda1", "fstype": "xfs", "maj:min": "8:1"}]}
    _, _, settings = metadata.collect(machine_tree, directories={"swap_dir": "/tmp"})
    facts = settings["directories"]["swap_dir"]
    assert (facts["source"], facts["fstype"]) == ("/dev/sda1", "xfs")
    assert facts["rotational"] is False  # sda1 is a partition: its disk sda answers


def test_findmnt_missing_falls_back_to_mountinfo(machine_tree, tools):
    directories = {"file_dir": "/srv/fast/bench", "swap_dir": "/srv/fast disk/swap", "tmp": "/tmp/x",
                   "rootfs": "/var/tmp"}
    _, _, settings = metadata.collect(machine_tree, directories=directories)
    found = settings["directories"]
    assert found["file_dir"] == {"path": "/srv/fast/bench", "source": "/dev/sda1", "fstype": "xfs",
                                 "target": "/srv/fast", "rotational": False}
    # The escaped mount point "/srv/fast\040disk" is a different mount from "/srv/fast".
    assert (found["swap_dir"]["target"], found["swap_dir"]["fstype"]) == ("/srv/fast disk", "tmpfs")
    assert found["swap_dir"]["rotational"] is None  # not a block device
    assert found["tmp"]["source"] == "overmount"  # the later mount on /tmp hides the earlier
    assert (found["rootfs"]["source"], found["rootfs"]["rotational"]) == ("/dev/vda", True)
    assert set(settings["fact_sources"]["directories"].values()) == {"mountinfo"}


def test_same_directory_is_looked_up_once(machine_tree, tools):
    metadata.collect(machine_tree, directories={"file_dir": "/var/tmp", "swap_dir": "/var/tmp"})
    assert tools.calls.count("findmnt /var/tmp") == 1


# --------------------------------------------------------------------------------- swap

def test_swapon_json_parsed(machine_tree, tools):
    tools.answers["swapon"] = SWAPON_JSON
    _, _, settings = metadata.collect(machine_tree)
    assert settings["swap_devices"] == [
        {"name": "/dev/zram0", "type": "partition", "size_kib": 524284, "used_kib": 4, "priority": 100},
        {"name": "/var/tmp/pageladder-swap-4242", "type": "file", "size_kib": 262140, "used_kib": 0,
         "priority": -2},
    ]
    assert settings["fact_sources"]["swap_devices"] == "swapon"


def test_swapon_without_json_falls_back_to_proc_swaps(machine_tree, tools):
    _, _, settings = metadata.collect(machine_tree)
    assert settings["swap_devices"] == [
        {"name": "/dev/zram0", "type": "partition", "size_kib": 524284, "used_kib": 0, "priority": 100},
        {"name": "/var/tmp/swap file", "type": "file", "size_kib": 262140, "used_kib": 0, "priority": -2},
    ]
    assert settings["fact_sources"]["swap_devices"] == "/proc/swaps"


# ------------------------------------------------------------------------ the tool runner

def test_run_json_reads_a_tools_json():
    assert metadata._run_json([sys.executable, "-c", "print('{\"a\": 1}')"]) == {"a": 1}


@pytest.mark.parametrize("argv", [
    ["pageladder-no-such-tool-anywhere"],
    [sys.executable, "-c", "import sys; print('{\"partial\": 1}'); sys.exit(1)"],
    [sys.executable, "-c", "print('not json')"],
], ids=["missing", "fails", "not-json"])
def test_run_json_gives_none_instead_of_failing(argv):
    assert metadata._run_json(argv) is None


def test_run_json_gives_up_on_a_hung_tool(monkeypatch):
    monkeypatch.setattr(metadata, "TOOL_TIMEOUT_S", 0.2)
    assert metadata._run_json([sys.executable, "-c", "import time; time.sleep(10)"]) is None


# --------------------------------------------------------------------------- fingerprint

@pytest.fixture
def collected(machine_tree, tools):
    """collect() on the fake machine, with the binaries' context merged and the swap rows' devices."""
    tools.answers["swapon"] = SWAPON_JSON
    machine, kernel, settings = metadata.collect(
        machine_tree, directories={"file_dir": "/srv/fast/bench", "swap_dir": "/var/tmp"})
    metadata.merge_binary_context(settings, {"pageladder_counting_mode": "user+kernel"})
    settings["swap_devices_used"] = [
        {"kind": "zram", "name": "/dev/zram0", "size_bytes": 512 * metadata.MIB, "priority": 32767},
        {"kind": "file", "name": "/var/tmp/pageladder-swap-4242", "size_bytes": 256 * metadata.MIB - 4096,
         "priority": 32767, "fstype": "ext4"},
    ]
    return machine, kernel, settings


def test_fingerprint_has_each_new_field(collected):
    print_ = fingerprint.fingerprint(*collected)
    assert print_["governor"] == "performance"
    assert print_["boost"] == "off"
    assert print_["smt"] == "control=on,active=1"
    assert print_["mthp_enabled"] == "64kB=never,2048kB=madvise"  # 8kB is shmem-only: left out
    assert (print_["file_dir_device"], print_["file_dir_fstype"]) == ("/dev/sda1", "xfs")
    assert (print_["swap_dir_device"], print_["swap_dir_fstype"]) == ("/dev/vda", "ext4")
    assert print_["counting_mode"] == "user+kernel"
    assert print_["zswap"] == "enabled=Y,compressor=zstd,zpool=zsmalloc,max_pool_percent=20"
    assert print_["fault_around_bytes"] == 65536
    assert print_["swap_devices_used"] == "zram:512MiB,file(ext4):256MiB"


def test_fingerprint_keeps_existing_fields(collected):
    print_ = fingerprint.fingerprint(*collected)
    for field in ("cpu_model", "microcode", "cpus", "virtualization", "kernel_release", "kernel_cmdline",
                  "thp_enabled", "thp_defrag", "page_size", "pti", "mitigations", "page_cluster",
                  "swap_devices", "zswap_enabled", "cgroup_version", "clocksource", "timer", "pmu"):
        assert field in print_
    assert print_["swap_devices"] == "/dev/zram0,/var/tmp/pageladder-swap-4242"
    assert print_["zswap_enabled"] == "Y"


def test_swap_devices_used_rendered_without_names(collected):
    machine, kernel, settings = collected
    rendered = fingerprint.fingerprint(machine, kernel, settings)["swap_devices_used"]
    assert "4242" not in rendered and "zram0" not in rendered
    # Another run's swap file has another pid in its name: not a difference.
    settings["swap_devices_used"][1]["name"] = "/var/tmp/pageladder-swap-9999"
    assert fingerprint.fingerprint(machine, kernel, settings)["swap_devices_used"] == rendered


@pytest.mark.parametrize("devices,rendered", [
    (None, None),
    ([], "none"),
    ([{"kind": "partition", "name": "/dev/nvme0n1p3", "size_bytes": 8 * metadata.GIB, "priority": -2}],
     "partition:8GiB"),
    ([{"kind": "zram", "name": "/dev/zram1", "size_bytes": None, "priority": 5}], "zram"),
], ids=["not-recorded", "no-swap-rows", "partition-in-gib", "size-unknown"])
def test_swap_devices_used_rendering(devices, rendered):
    assert fingerprint.fingerprint({}, {}, {"swap_devices_used": devices})["swap_devices_used"] == rendered


def test_missing_values_stay_none():
    print_ = fingerprint.fingerprint({}, {}, {})
    for field in ("governor", "boost", "smt", "mthp_enabled", "file_dir_device", "file_dir_fstype",
                  "swap_dir_device", "swap_dir_fstype", "counting_mode", "zswap", "fault_around_bytes",
                  "swap_devices_used"):
        assert print_[field] is None, field


def test_zswap_parameter_the_kernel_dropped_is_left_out(collected):
    machine, kernel, settings = collected
    settings["zswap"]["zpool"] = None
    assert fingerprint.fingerprint(machine, kernel, settings)["zswap"] == \
        "enabled=Y,compressor=zstd,max_pool_percent=20"


def test_fingerprints_differing_only_in_governor_differ_in_that_field(collected):
    machine, kernel, settings = collected
    before = fingerprint.fingerprint(machine, kernel, settings)
    after = fingerprint.fingerprint(machine, kernel, dict(settings, governor="powersave"))
    assert {f for f in before if before[f] != after[f]} == {"governor"}
    runs = [{"pageladder": {"fingerprint": p, "harness": {"quick": True}}} for p in (before, after)]
    assert compare.fingerprint_differences(runs) == [("governor", ["performance", "powersave"])]


def test_unknown_on_both_sides_is_no_difference():
    runs = [{"pageladder": {"fingerprint": fingerprint.fingerprint({}, {}, {}), "harness": {}}} for _ in range(2)]
    assert compare.fingerprint_differences(runs) == []
