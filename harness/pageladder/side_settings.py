"""The runtime settings a side of `make compare SETTINGS="<A> <B> ..."` measures this machine under.

A side is `as-is` (the machine as found) or comma-separated `name=value` pairs from KNOBS, for
example `thp=never` or `zswap=N,page_cluster=0`. Each knob is a file under /sys or /proc that the
suite can journal and restore (system.knob: written before a side's round, undone after it,
restored by `make restore` after a crash), except `cpu`, which pins the side's benchmarks to a
CPU. A benchmark that provisions a knob for its own row (swap_in's zswap phase, mthp's sizes)
still does so inside its row: a side's value is what every other row runs under.

Standard library only: inputs.py checks SETTINGS with `parse` before `make deps` has run.
"""
import re
from dataclasses import dataclass

AS_IS = "as-is"
THP = "/sys/kernel/mm/transparent_hugepage"
MTHP = re.compile(r"mthp_([0-9]{1,7})k")


@dataclass(frozen=True)
class Knob:
    path: str
    values: tuple = ()          # the words it takes; empty: a whole number in numbers
    numbers: tuple = (0, 0)
    what: str = ""

    def check(self, name, value):
        if self.values:
            if value not in self.values:
                raise ValueError(f"{name}={value}: one of {', '.join(self.values)}")
        elif not re.fullmatch(r"[0-9]{1,6}", value) or not self.numbers[0] <= int(value) <= self.numbers[1]:
            raise ValueError(f"{name}={value}: a whole number from {self.numbers[0]} to {self.numbers[1]}")


# The documented list (docs and `--help` of compare show it).
KNOBS = {
    "thp": Knob(f"{THP}/enabled", ("always", "madvise", "never"), what="transparent huge pages"),
    "thp_defrag": Knob(f"{THP}/defrag", ("always", "defer", "defer+madvise", "madvise", "never"),
                       what="THP direct compaction"),
    "zswap": Knob("/sys/module/zswap/parameters/enabled", ("Y", "N"), what="the zswap pool"),
    "page_cluster": Knob("/proc/sys/vm/page-cluster", numbers=(0, 10), what="swap readahead (2^n pages)"),
    "swappiness": Knob("/proc/sys/vm/swappiness", numbers=(0, 200), what="vm.swappiness"),
    "cpu": Knob("", numbers=(0, 65535), what="pin the side's benchmarks to this CPU"),
}
MTHP_VALUES = ("always", "inherit", "madvise", "never")


def knob(name):
    """The Knob of a name (mthp_<size>k for each multi-size THP size); ValueError when unknown."""
    if name in KNOBS:
        return KNOBS[name]
    m = MTHP.fullmatch(name)
    if m:
        return Knob(f"{THP}/hugepages-{m.group(1)}kB/enabled", MTHP_VALUES, what=f"{m.group(1)} KiB mTHP")
    raise ValueError(f"unknown setting {name!r}; known: {', '.join(KNOBS)}, mthp_<size>k")


def parse(text):
    """{name: value} of one side ({} for as-is); ValueError with one line when it is not one."""
    if text == AS_IS:
        return {}
    side = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"{text!r}: a side is {AS_IS} or name=value[,name=value...]")
        knob(name).check(name, value)
        if name in side:
            raise ValueError(f"{text!r}: {name} given twice")
        side[name] = value
    return side


def parse_sides(text):
    """[(label, {name: value})] of SETTINGS (sides separated by spaces); ValueError when fewer
    than two or one is malformed."""
    sides = [(label, parse(label)) for label in text.split()]
    if len(sides) < 2:
        raise ValueError(f"SETTINGS={text!r}: two sides or more, separated by spaces "
                         f"(for example '{AS_IS} thp=never')")
    return sides


def pinned_cpu(side):
    return int(side["cpu"]) if "cpu" in side else None


def files(side):
    """[(name, path, value)] of the side's knobs that are files (cpu is not)."""
    return [(name, knob(name).path, value) for name, value in side.items() if knob(name).path]
