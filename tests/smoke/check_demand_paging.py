#!/usr/bin/env python3
"""demand_paging shows the chapter's lesson in its own numbers: VmSize jumps at malloc, VmRSS
grows only while pages are touched (one minor fault per page), and free() returns both."""
import json
import subprocess
import sys


def main():
    data = json.loads(subprocess.run([sys.argv[1]], stdout=subprocess.PIPE, check=True, text=True).stdout)
    stages = {s["stage"]: s for s in data["samples"] if s["stage"] != "touching"}
    mib = 1024
    problems = []
    if not 0.99 * data["pages"] <= data["touch_minor_faults"] <= 1.01 * data["pages"]:
        problems.append(f"{data['touch_minor_faults']} minor faults for {data['pages']} pages")
    if data["touch_major_faults"] != 0:
        problems.append(f"{data['touch_major_faults']} major faults")
    if stages["after malloc"]["vm_size_kib"] - stages["before malloc"]["vm_size_kib"] < 99 * mib:
        problems.append("VmSize did not jump by 100 MiB at malloc")
    if stages["after malloc"]["vm_rss_kib"] - stages["before malloc"]["vm_rss_kib"] > 2 * mib:
        problems.append("VmRSS grew at malloc, before any touch")
    if stages["after touching"]["vm_rss_kib"] - stages["after malloc"]["vm_rss_kib"] < 99 * mib:
        problems.append("VmRSS did not grow by 100 MiB while touching")
    if stages["after free"]["vm_rss_kib"] > stages["after touching"]["vm_rss_kib"] - 99 * mib:
        problems.append("free() did not return the resident memory")
    rss = [s["vm_rss_kib"] for s in data["samples"] if s["stage"] == "touching"]
    if len(rss) < 50 or any(b < a for a, b in zip(rss, rss[1:])):
        problems.append("the touching curve is too short or not monotonic")
    for p in problems:
        print(f"FAIL: {p}")
    print(f"{data['touch_minor_faults']} minor faults for {data['pages']} pages")
    print(f"{1 if not problems else 0} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
