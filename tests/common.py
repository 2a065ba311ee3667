"""What every script test under tests/ shares, once: the skip status ctest reads (77), how a test
fails (the command's output's tail, then one FAIL line), `make` run as a user types it against
this checkout's build, the arguments naming the checkout, and the root check.

A script imports it after putting tests/ on its path:

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import common
"""
import argparse
import os
import subprocess
import sys

SKIP = 77  # ctest's SKIP_RETURN_CODE for every script test (tests/CMakeLists.txt)


def fail(message, output="", tail=6000):
    """Ends the test: the output's last `tail` characters, then FAIL and why."""
    if output:
        print(output[-tail:])
    print(f"FAIL: {message}")
    sys.exit(1)


def skip(reason):
    """The status to return when the test cannot run here, having said why."""
    print(f"SKIP: {reason}")
    return SKIP


def needs_root(what):
    """skip()'s status when this is not root (None when it is)."""
    return None if os.geteuid() == 0 else skip(f"needs root ({what})")


def checkout_arguments(description=None):
    """The arguments a test that runs make takes: --source, --build, --python."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--source", required=True, help="the checkout")
    parser.add_argument("--build", required=True, help="its build folder")
    parser.add_argument("--python", required=True, help="the harness's interpreter")
    return parser


def make(source, build, python, results, *args, timeout=None):
    """`make -C source BUILD_DIR=build PYTHON=python RESULTS=results <args>`, its output captured."""
    cmd = ["make", "--no-print-directory", "-C", str(source), f"BUILD_DIR={build}", f"PYTHON={python}",
           f"RESULTS={results}", *args]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
