"""The make variables a user (or a fleet's inventory) sets, checked once before anything runs.

The Makefile never pastes a variable into shell text: it takes each one literally (`$(value)`,
so make expands nothing in it either) and hands it to scripts/make-verb as the environment
variable PAGELADDER_<NAME>. make-verb calls this module first, for every verb, and reaches
commands only with argument lists. Here each variable that is set gets its rule (a word from a
list, a number in a range, names from the registry, a path of plain characters); the first one
that breaks its rule is named in one line, and the exit status is 2, before deps, a build or a
benchmark has run. A fleet host's `make bench` runs the same check on the values the inventory
gave it. Standard library only: it runs before `make deps` has installed anything.

  python3 -m pageladder.inputs            # checks every PAGELADDER_<NAME> that is set
"""
import os
import re
import sys

from pageladder import registry, side_settings

EXIT_USAGE = 2
MAX_LENGTH = 4096

# Paths: letters, digits and the punctuation file names use; no quote, no $, no backtick, no ;
# | & < > ( ) *, no control character (a newline included), and not starting with '-' (which a
# command would read as an option).
_PATH = re.compile(r"[A-Za-z0-9._/+=,:@%~ -]+")
_WORD = re.compile(r"[A-Za-z0-9_]+")
# Debian package names (Debian policy 5.6.1), as `KERNEL=linux-image-amd64` names one.
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9.+-]+")
# An Ansible host pattern (LIMIT): names, groups, wildcards, ':' '&' '!' ',' and ranges.
_HOST_PATTERN = re.compile(r"[A-Za-z0-9_.:*?!&,~\[\]-]+")
_FLAG_ON = ("1", "true", "yes", "on")
_FLAG_OFF = ("", "0", "false", "no", "off")


class InputError(ValueError):
    """A variable that breaks its rule; the message is the one line to show."""


def _flag(name, value):
    if value.lower() not in _FLAG_ON + _FLAG_OFF:
        raise InputError(f"{name}={value!r}: say 1 or 0 (also true/false, yes/no)")


def is_on(value):
    """A flag variable's meaning: QUICK=1 (or true, yes, on) is on; empty, 0, false, no, off not."""
    return (value or "").lower() in _FLAG_ON


def _path(name, value):
    if value.startswith("-") or not _PATH.fullmatch(value):
        bad = sorted({c for c in value if not _PATH.fullmatch(c)})
        why = "starts with '-'" if value.startswith("-") and not bad else \
            "has " + " ".join(repr(c) for c in bad)
        raise InputError(f"{name}={value!r}: a path of letters, digits, spaces and ._/+=,:@%~- "
                         f"only; it {why}")


def _paths(name, value):
    for part in value.split():
        _path(name, part)


def _choice(*allowed):
    def check(name, value):
        if value not in allowed:
            raise InputError(f"{name}={value!r}: one of {', '.join(allowed)}")
    return check


_DIGITS = re.compile(r"[0-9]{1,9}")


def _integer(low, high):
    def check(name, value):
        if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
            raise InputError(f"{name}={value!r}: a whole number from {low} to {high}")
    return check


def _only(name, value):
    names = [n for n in value.replace(",", " ").split() if n]
    unknown = [n for n in names if n not in registry.BENCHMARK_BY_NAME]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:3])
        raise InputError(f"{name}: unknown benchmark name(s) {shown}; valid names: "
                         f"{', '.join(registry.benchmark_names())}")


def _tlb_pages(name, value):
    parts = value.replace(",", " ").split()
    if len(parts) != 3 or not all(_DIGITS.fullmatch(p) for p in parts) or \
            not 2 <= int(parts[0]) < int(parts[1]) < int(parts[2]):
        raise InputError(f"{name}={value!r}: three increasing page counts '<hit> <stlb> <walk>' "
                         f"(for example '16 256 131072')")


def _words(name, value):
    for word in value.split():
        if not _WORD.fullmatch(word):
            raise InputError(f"{name}={value!r}: names of letters, digits and _ separated by spaces")


def _kernel(name, value):
    if _PACKAGE.fullmatch(value):
        return
    if "/" in value or value.endswith(".deb") or os.path.isfile(value):
        _path(name, value)
        return
    raise InputError(f"{name}={value!r}: a Debian kernel package (linux-image-amd64), a .deb or a "
                     f"kernel image's path")


_PERCENT = re.compile(r"[0-9]{1,2}(\.[0-9]{1,3})?")


def _percent(name, value):
    # At least twice the 1% floor under which no change is called: a narrower margin is never decided.
    if not _PERCENT.fullmatch(value) or not 2 <= float(value) <= 50:
        raise InputError(f"{name}={value!r}: a percentage from 2 to 50 (for example 5 or 2.5)")


def _settings(name, value):
    try:
        side_settings.parse_sides(value)
    except ValueError as e:
        raise InputError(f"{name}: {e}") from None


def _kernels(name, value):
    if len(value.split()) < 2:
        raise InputError(f"{name}={value!r}: two kernels or more, separated by spaces (one kernel twice "
                         f"is an A/A)")
    for word in value.split():
        _kernel(name, word)


def _host_pattern(name, value):
    if not _HOST_PATTERN.fullmatch(value):
        raise InputError(f"{name}={value!r}: an Ansible host pattern (names, groups, * : & ! , [ ]) "
                         f"without spaces or quotes")


# Every variable the Makefile passes down, and its rule (docs/names.md lists them for users).
RULES = {
    "QUICK": _flag, "NO_SYSTEM_CHANGES": _flag, "V": _flag, "ANATOMY": _flag,
    "FAIL_ON_SLOWER": _flag, "HISTORY": _flag, "GUEST_DEPS": _flag, "FLEET_DEPS": _flag,
    "ONLY": _only,
    "CPU": _integer(0, 65535),
    "TLB_PAGES": _tlb_pages,
    "BUILD_DIR": _path, "RESULTS": _path, "FILE_DIR": _path, "SWAP_DIR": _path,
    "KERNEL_MODULES": _path, "INVENTORY": _path, "FLEET": _path, "RUN": _path, "PYTHON": _path,
    "A": _paths, "B": _paths, "RUNS": _paths,
    "KERNEL": _kernel,
    "CGROUP": _choice("v1", "v2"),
    "ACCEL": _choice("auto", "kvm", "tcg"),
    "ORDER": _choice("given", "kernel"),
    "CMAKE_BUILD_TYPE": _choice("Release", "Debug", "RelWithDebInfo", "MinSizeRel"),
    "TARGETS": _words,
    "CXX": _path, "CC": _path,
    "LIMIT": _host_pattern,
    "FORKS": _integer(1, 500),
    "SETTINGS": _settings, "KERNELS": _kernels, "BUDGET": _integer(1, 1440), "EQUIV": _percent,
}
# The variables a fleet's inventory may give one host (pageladder_make_vars): what make bench
# takes per machine. The rest (ONLY, QUICK ...) are the fleet's, the same on every host.
HOST_VARIABLES = ("CPU", "FILE_DIR", "SWAP_DIR", "TLB_PAGES", "NO_SYSTEM_CHANGES", "PYTHON", "V", "CXX", "CC")
ENV_PREFIX = "PAGELADDER_"


def check(name, value):
    """Raises InputError with the one line to show when value breaks name's rule."""
    if name not in RULES:
        raise InputError(f"{name} is not a pageladder variable")
    if not isinstance(value, str):
        raise InputError(f"{name}: a text value, not {type(value).__name__}")
    if len(value) > MAX_LENGTH:
        raise InputError(f"{name}: {len(value)} characters (at most {MAX_LENGTH})")
    if value == "":
        return
    if any(not c.isprintable() for c in value):
        raise InputError(f"{name}={value!r}: a control character (a newline, a tab ...) in it")
    RULES[name](name, value)


def check_all(values):
    """Checks every set variable of values ({name: text}); raises the first InputError."""
    for name in RULES:
        if name in values:
            check(name, values[name])


def from_environment(environ=None):
    """{name: value} of the PAGELADDER_<NAME> variables make-verb was given."""
    environ = os.environ if environ is None else environ
    return {name: environ[ENV_PREFIX + name] for name in RULES if ENV_PREFIX + name in environ}


def main(argv=None):
    try:
        check_all(from_environment())
    except InputError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
