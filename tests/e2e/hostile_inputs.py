"""No make variable reaches a shell: for every variable the Makefile passes down and every
payload that would run a command if pasted into shell text (" ' $() backticks ; and a newline),
`make bench` (and the verb that variable is for) exits 2 with one line naming the variable, and
the probe file each payload would create never appears. make runs in a copy of the checkout, so
a regression runs nothing in the real one, and the copy must gain no file either.

  hostile_inputs.py <source folder>
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(sys.argv[1]) / "harness"))
from pageladder import inputs  # noqa: E402

VERB_OF = {"RUN": "plot", "A": "compare", "B": "compare", "RUNS": "compare", "ORDER": "compare",
           "FAIL_ON_SLOWER": "compare", "HISTORY": "compare", "INVENTORY": "fleet", "LIMIT": "fleet",
           "FORKS": "fleet", "FLEET": "fleet", "TARGETS": "build", "CMAKE_BUILD_TYPE": "build"}


def payloads(probe):
    return {"double quote": f'x"; touch {probe}; echo "', "single quote": f"x'; touch {probe}; echo '",
            "$()": f"$(touch {probe})", "backticks": f"`touch {probe}`", "semicolon": f"x; touch {probe}",
            "newline": f"x\ntouch {probe}", "make $(shell)": f"$(shell touch {probe})"}


def copy_checkout(source, dest):
    """The checkout's files (tracked, and new ones not ignored), without build/ or results/."""
    listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (os.fsdecode(n) for n in listed)):
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)


def files_under(folder):
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="pageladder-hostile-") as tmp, \
            tempfile.TemporaryDirectory(prefix="pageladder-hostile-checkout-") as copy:
        source = Path(copy)
        copy_checkout(Path(sys.argv[1]), source)
        before = files_under(source)
        def make(verb, assignment, env_value=None):
            env = dict(os.environ, ONLY=env_value) if env_value is not None else None
            args = ["make", "--no-print-directory", "-C", str(source), verb] + ([assignment] if assignment else [])
            return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)

        cases = []
        for name in inputs.RULES:
            for kind, value in payloads(Path(tmp) / name).items():
                cases.append((name, kind, VERB_OF.get(name, "bench"), f"{name}={value}", None))
        # The same through the environment, as a fleet host's make gets them.
        for kind, value in payloads(Path(tmp) / "from-environment").items():
            cases.append(("ONLY", f"{kind}, from the environment", "bench", None, value))
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            done = list(pool.map(lambda c: make(c[2], c[3], c[4]), cases))
        for (name, kind, _, _, _), result in zip(cases, done):
            said = [line for line in result.stderr.splitlines() if line.startswith("pageladder:")]
            if result.returncode != 2 or len(said) != 1 or not said[0].startswith(f"pageladder: {name}"):
                failures.append(f"{name} ({kind}): exit {result.returncode}, said {said or result.stderr[-300:]!r}")
        appeared = sorted(p.name for p in Path(tmp).iterdir())
        failures += [f"the probe file {p} appeared" for p in appeared]
        failures += [f"the checkout gained {p!r}" for p in sorted(files_under(source) - before)]
    for f in failures:
        print("FAIL", f)
    print(f"{len(cases) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
