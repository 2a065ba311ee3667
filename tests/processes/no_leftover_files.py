#!/usr/bin/env python3
"""file_fault_bench leaves no file behind: after a normal run, after an injected crash right after
the test file was written, and a FILE_DIR that does not exist is a clean skip with the reason."""
import json
import os
import subprocess
import sys

from checklist import Checklist
import tempfile


def main():
    binary = sys.argv[1]
    checks = Checklist()
    check = checks.check

    base = [binary, "--pageladder_quick", "--benchmark_min_time=0.002", "--benchmark_repetitions=1",
            "--benchmark_filter=file_fault_cached$|file_fault_cached/|file_fault_major"]
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="pageladder-files-") as d:
        r = subprocess.run(base + [f"--pageladder_file_dir={d}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        check("normal run exits 0", r.returncode == 0, f"(status {r.returncode})")
        check("no file left after a normal run", os.listdir(d) == [], str(os.listdir(d)))

        env = dict(os.environ, PAGELADDER_INJECT_CRASH="after_file")
        r = subprocess.run(base + [f"--pageladder_file_dir={d}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        check("injected crash after writing the file kills the benchmark", r.returncode != 0)
        check("no file left after the crash", os.listdir(d) == [], str(os.listdir(d)))

        out = os.path.join(d, "..", os.path.basename(d) + ".json")
        r = subprocess.run(base + ["--pageladder_file_dir=/nonexistent/pageladder",
                                   f"--benchmark_out={out}", "--benchmark_out_format=json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = json.load(open(out))["benchmarks"]
        os.unlink(out)
        messages = {row["error_message"] for row in rows if row.get("error_occurred")}
        check("a missing FILE_DIR exits 0", r.returncode == 0)
        check("a missing FILE_DIR skips with the reason",
              len(rows) > 0 and all(m.startswith("skipped: cannot create a file in /nonexistent") for m in messages)
              and len(messages) == 1, str(messages))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
