"""Cleans up after a guest launcher that dies without doing it itself (SIGKILL included).

The launcher starts this in a session of its own (so Ctrl-C and a killed process group spare
it) with a pipe on its standard input, and writes one line for each thing to undo: `pid N` (a
qemu to kill; `unpid N` once it is reaped) and `path P` (a folder to remove). When the launcher has undone them itself it
writes `done`. End of input without `done` means the launcher died: the reaper kills and removes
what it was told of, then exits."""
import os
import shutil
import signal
import sys
import time


def reap(lines):
    pids, paths = [], []
    for line in lines:
        word, _, value = line.strip().partition(" ")
        if word == "done":
            return False
        if word == "pid" and value.isdigit():
            pids.append(int(value))
        elif word == "unpid" and value.isdigit() and int(value) in pids:
            pids.remove(int(value))
        elif word == "path" and value:
            paths.append(value)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        for _ in range(100):  # its files are released only once it is gone
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    return True


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.exit(0 if reap(sys.stdin) is not None else 1)
