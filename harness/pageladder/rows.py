"""Each row as its binary describes it (benchmarks/core/rows.hpp, `--pageladder_describe_rows`,
or the `pageladder_rows` of its JSON context): the harness's one reader of what a row is and
where it stands, and what follows from that: the ladder's order, the headline ladder, the rows
the anatomy pass takes, the rows of each swap phase. No rung id is written here."""
import functools
import json
import re
import subprocess
from pathlib import Path

DESCRIBE_FLAG = "--pageladder_describe_rows"


def position(spec, rung_id=None):
    """Sort key of a row on the ladder: its binary's ladder_rank, else after the ranked rows by
    family (family_rank, the order of kFamilies), then id. A row nobody described goes last."""
    spec = spec or {}
    rung_id = rung_id or spec.get("id", "")
    if (spec.get("ladder_rank") or 0) > 0:
        return (0, spec["ladder_rank"], "")
    family = spec.get("family_rank")
    return (1, family if isinstance(family, int) and family >= 0 else 99, rung_id)


def ordered(ids, specs, stored=()):
    """ids in ladder order, by their descriptions in specs ({id: description}). `stored`: the
    order a run was saved in, for rows described before descriptions had a ladder_rank (a run
    made by an older pageladder, whose ladder was saved in ladder order)."""
    stored = list(stored)

    def key(rung_id):
        spec = specs.get(rung_id) or {}
        if "ladder_rank" not in spec and rung_id in stored:
            return (0, stored.index(rung_id), "")
        return position(spec, rung_id)
    return sorted(ids, key=key)


def ids_where(specs, **fields):
    """The ids of the described rows whose fields have these values, in ladder order."""
    return ordered([i for i, s in specs.items() if all(s.get(k) == v for k, v in fields.items())], specs)


def run_filter(ids):
    """A --benchmark_filter that runs exactly these rows (and a series' points)."""
    return "^(" + "|".join(map(re.escape, ids)) + ")(/|$)" if ids else "^$"


@functools.lru_cache(maxsize=None)
def _describe(path, mtime, args):
    try:
        result = subprocess.run([path, *args, DESCRIBE_FLAG], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise ValueError(f"{path} cannot describe its rows: {e}") from e
    if result.returncode != 0:
        raise ValueError(f"{path} cannot describe its rows (built by an older pageladder? `make build`): "
                         f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}")
    try:
        return {spec["id"]: spec for spec in json.loads(result.stdout)}
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} described its rows in something that is not their JSON: {e}") from e


def describe(binary_path, args=()):
    """{id: description} of a built binary's rows, without running them; ValueError when the
    binary is missing or cannot say. args: the pageladder flags the run gives it
    (--pageladder_quick ...), so that it registers the rows the run will."""
    path = Path(binary_path)
    if not path.is_file():
        raise ValueError(f"not built: {path} does not exist")
    return {i: dict(spec) for i, spec in _describe(str(path), path.stat().st_mtime_ns, tuple(args)).items()}


def families(specs, stored=()):
    """The families of the described rows, in the binaries' order (kFamilies); for rows
    described before family_rank, in the order `stored` (families as a run saved them) has."""
    stored = list(dict.fromkeys(stored))
    ranks = {}
    for spec in specs.values():
        family = spec.get("family")
        if not family:
            continue
        rank = spec.get("family_rank")
        if not isinstance(rank, int):
            rank = stored.index(family) if family in stored else 99
        ranks.setdefault(family, rank)
    return sorted(ranks, key=lambda f: (ranks[f], f))


def headline(specs, stored=()):
    """The headline rows in ladder order; for a run whose rows predate the headline flag, every
    rung it stored, in its order."""
    if any("headline" in spec for spec in specs.values()):
        return ids_where(specs, headline=True)
    return list(stored)
