"""One guest run, from KERNEL= to results/<run-id>/: the kernel tree, the initramfs, a disk and a
staging folder, the guest booted (KVM where it runs the kernel, else TCG) to run the harness's
`bench` with the same arguments as on the host, and its run folder handed back like any run.

Everything temporary lives in one folder, results/.guest-<pid>-<random>/ (made 0700, exclusively),
removed at the end; a reaper
process removes it (and kills qemu) if this one is killed."""
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from guests import initramfs, kernel, lab_host, machine
from pageladder import safe_io

EXIT_GUEST = 6          # the guest could not run (bad kernel, no qemu, panic, hang ...)
KVM_BOOT_TIMEOUT_S = 60  # a KVM guest that has not reached its init by then is emulated instead
DISK_BYTES = 4 << 30    # sparse: /var/tmp in the guest (file_fault's file, the swap file)
CHECKOUT = Path(__file__).resolve().parent.parent


@dataclass
class GuestRequest:
    """What `make bench KERNEL=...` asks for, passed down from the command line."""
    kernel: str
    harness_args: list
    build_dir: Path
    results: Path
    python: str
    cgroup: str = "v2"
    accel: str = "auto"         # auto, kvm or tcg
    cpus: int = 0               # 0: as many as the host has, up to 4
    memory_mib: int = 4096
    kernel_modules: str = ""
    boot_timeout_s: int = 120
    run_timeout_s: int = 3600   # 0: none (a lab host serves until stopped)
    exec_command: tuple = ()    # `guests exec`: this command instead of the harness's bench
    ssh_port: int = 0           # `guests serve`: a lab host, its sshd on 127.0.0.1:ssh_port
    authorized_keys: str = ""   # `guests serve`: the public keys that may log in as root
    handed_back: Path = None    # set by run(): the run folder the guest handed back
    draw: bool = True           # draw the handed-back run's charts (an interleaved round: no)


def _say(text):
    print(f"pageladder: {text}", flush=True)


def _make_disk(path):
    with open(path, "wb") as f:
        f.truncate(DISK_BYTES)
    mkfs = shutil.which("mkfs.ext4") or "/sbin/mkfs.ext4"
    result = subprocess.run([mkfs, "-q", "-F", "-E", "nodiscard", "-L", "pageladder", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise machine.GuestError(f"mkfs.ext4 failed on the guest's disk: {result.stderr.strip()[:200]}")


def _env_file(request, share, command):
    exports = {
        "GUEST_CHECKOUT": str(CHECKOUT),
        "GUEST_HOSTNAME": f"{socket.gethostname().split('.')[0]}-guest",
        "GUEST_CGROUP": request.cgroup,
        # A lab host (guests/lab_host.py): its network card up, root's home writable.
        "GUEST_LAB_HOST": "1" if request.ssh_port else "",
        # Folders of the host the guest must see where its own /tmp, /var/tmp or /run would
        # hide them (init.sh binds them back): the checkout, the build, the interpreter's prefix.
        "GUEST_KEEP": " ".join(sorted({str(CHECKOUT), str(Path(request.build_dir).resolve()),
                                       str(Path(request.python).resolve().parent.parent)})),
        "GUEST_COMMAND": " ".join(shlex.quote(a) for a in command),
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": str(CHECKOUT / "harness"),
    }
    (share / "guest.env").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items()))


def _guest_facts(request, tree, shape, qemu, missing_modules):
    """What the run records of the guest (run.json's settings.guest)."""
    return {"accel": shape.accel, "accel_reason": shape.accel_reason, "cpus": shape.cpus,
            "memory_mib": shape.memory_mib, "cgroup": shape.cgroup, "qemu": machine.qemu_version(qemu),
            "kernel": {"requested": request.kernel, "package": tree.package, "release": tree.release},
            "modules_missing": missing_modules,
            "host": {"hostname": socket.gethostname(), "kernel_release": platform.release(),
                     "cpu_model": _host_cpu_model()}}


def _host_cpu_model():
    """The host's CPU: under emulation it, not the guest's CPUID, decides the times."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _hand_back(share, results_root, console_log):
    """Copies the guest's run folder into results/ and points results/latest at it. What the
    guest wrote is data: its folder's name must be a plain run id, its files arrive as regular
    files (a symlink, device node or FIFO it planted stays behind, said; no setuid bit comes
    along), and an existing folder of that name is never written into."""
    runs = sorted(p for p in (share / "results").iterdir() if p.is_dir() and not p.is_symlink())
    if not runs:
        return None
    run = runs[0]
    try:
        safe_io.safe_name(run.name, "the guest's run folder")
        target = safe_io.new_folder(results_root, run.name)
        left = safe_io.copy_regular_tree(run, target)
    except (ValueError, OSError) as e:
        print(f"pageladder: the guest's run cannot be handed back: {e}", file=sys.stderr)
        return None
    if left:
        _say(f"left out of the guest's run (not regular files): {', '.join(str(p) for p in left[:5])}")
    logs = target / "logs"
    if not logs.is_dir():  # a regular file the guest named logs: the console goes beside it
        logs = target
    shutil.copyfile(console_log, logs / "guest-console.log")
    safe_io.symlink_atomically(target.name, results_root / "latest")
    return target


def _keep_console(results_root, tree, console_log):
    """A guest that produced no run: its console, where the user can read it."""
    folder = results_root / f"{time.strftime('%Y%m%d-%H%M%S')}-guest-{tree.release}-failed" / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(console_log, folder / "guest-console.log")
    return folder / "guest-console.log"


def _draw(run_dir):
    """The charts and report of a handed-back run, drawn here at native speed (matplotlib under
    software emulation takes most of a minute). Returns the plot's exit status."""
    from pageladder import collect, outputs
    try:
        return outputs.render_outputs(collect.load_run(run_dir), run_dir)
    except collect.RunError as e:
        print(f"pageladder: the guest's run cannot be drawn: {e}", file=sys.stderr)
        return EXIT_GUEST


def _shapes(request):
    cpus = request.cpus or min(os.cpu_count() or 1, 4)
    if request.accel == "tcg":
        return [machine.Shape(cpus, request.memory_mib, "tcg", "asked for (ACCEL=tcg)", request.cgroup)]
    usable, reason = machine.kvm_verdict()
    if request.accel == "kvm" and not usable:
        raise machine.GuestError(f"ACCEL=kvm, but {reason}")
    shapes = [machine.Shape(cpus, request.memory_mib, "kvm", reason, request.cgroup)] if usable else []
    if request.accel == "auto":
        shapes.append(machine.Shape(cpus, request.memory_mib, "tcg",
                                    "software emulation: " + (reason if not usable else "KVM did not boot it"),
                                    request.cgroup))
    return shapes


def run(request):
    """The whole guest run; returns the exit status (the harness's, or EXIT_GUEST). The run
    folder it handed back, if any, is in request.handed_back afterwards."""
    results_root = Path(request.results).resolve()
    # Bad input first, before any tool is looked for or anything fetched.
    for name, path in (("RESULTS", results_root), ("the checkout", CHECKOUT),
                       ("BUILD_DIR", Path(request.build_dir).resolve())):
        if any(c.isspace() or c == "," for c in str(path)):
            # These paths go on the kernel command line, into qemu's -virtfs and through the
            # guest's shell.
            print(f"pageladder: {name} {path}: a guest needs a path without spaces or commas",
                  file=sys.stderr)
            return EXIT_GUEST
    if request.ssh_port and not lab_host.port_is_free(request.ssh_port):
        print(f"pageladder: 127.0.0.1:{request.ssh_port} is taken: --ssh-port needs a free port", file=sys.stderr)
        return EXIT_GUEST
    try:
        tree = kernel.resolve(request.kernel, Path(request.build_dir).resolve() / "kernels",
                              request.kernel_modules or None)
        qemu = machine.qemu_binary()
        shapes = _shapes(request)
    except (kernel.KernelError, machine.GuestError) as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_GUEST
    results_root.mkdir(parents=True, exist_ok=True)
    # Made fresh, 0700 and exclusively: nobody else's folder of a predictable name is used.
    work = Path(tempfile.mkdtemp(prefix=f".guest-{os.getpid()}-", dir=results_root))
    reaper = machine.Reaper()
    reaper.tell("path", work)
    try:
        return _run_in(request, tree, qemu, shapes, work, reaper, results_root)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        reaper.done()


def _run_in(request, tree, qemu, shapes, work, reaper, results_root):
    share = work / "share"
    (share / "results").mkdir(parents=True)
    console_log = work / "console.log"
    try:
        modules = initramfs.MODULES + (lab_host.NETWORK_MODULES if request.ssh_port else ())
        missing = initramfs.build(tree, work / "initrd.gz", work / "initramfs", modules)
        if missing:
            _say(f"the kernel has no {', '.join(missing)} module: the rows that need it will skip")
        if request.ssh_port:
            command = lab_host.sshd_command(share, request.authorized_keys)
        elif request.exec_command:
            command = list(request.exec_command)
        else:
            command = [request.python, "-m", "pageladder", "bench", "--build-dir",
                       str(Path(request.build_dir).resolve()), "--results", str(share / "results"),
                       "--guest", str(share / "guest.json"), "--no-charts", *request.harness_args]
        _env_file(request, share, command)
    except Exception as e:  # noqa: BLE001 - one line for whatever stops the guest being made
        print(f"pageladder: cannot make the guest: {e}", file=sys.stderr)
        return EXIT_GUEST
    # softlockup_panic: a guest kernel stuck in a loop (seen once, 6.1 under TCG, both CPUs at
    # the start of a run) ends the guest at once, its console kept, rather than hanging for hours.
    append = f"console=ttyS0 panic=-1 softlockup_panic=1 quiet loglevel=3 pageladder.staging={share}"

    def echo(line):
        print(line, flush=True)

    devices = lab_host.network_devices(request.ssh_port) if request.ssh_port else ()
    for i, shape in enumerate(shapes):
        last = i == len(shapes) - 1
        _say(f"booting {tree.release} ({tree.package or tree.image}) in a {shape.accel.upper()} guest: "
             f"{shape.cpus} CPUs, {shape.memory_mib} MiB, cgroup {shape.cgroup}")
        try:
            (share / "guest.json").write_text(json.dumps(_guest_facts(request, tree, shape, qemu, missing), indent=1))
            _make_disk(work / "disk.img")
            stopped = threading.Event()
            if request.ssh_port:
                lab_host.announce_when_ready(request.ssh_port, _say, stopped)
            try:
                boot_seconds = machine.boot(qemu, shape, tree.image, work / "initrd.gz", share, work / "disk.img",
                                            append, console_log, reaper,
                                            boot_timeout=request.boot_timeout_s if last else KVM_BOOT_TIMEOUT_S,
                                            run_timeout=request.run_timeout_s, echo=echo, devices=devices)
            finally:
                stopped.set()
            status = _exit_status(share)
        except (machine.GuestError, OSError) as e:
            if not last and isinstance(e, machine.GuestError) and not (share / "exit-status").exists():
                # KVM refused this kernel (qemu stopped at once, or the guest hung): emulate it.
                _say(f"KVM did not run the kernel ({e}); falling back to software emulation")
                continue
            kept = _keep_console(results_root, tree, console_log)
            print(f"pageladder: {e}; the guest's console: {kept}", file=sys.stderr)
            return EXIT_GUEST
        if request.exec_command or request.ssh_port:
            return status
        target = _hand_back(share, results_root, console_log)
        if target is None:
            kept = _keep_console(results_root, tree, console_log)
            print(f"pageladder: the guest's run wrote no run folder (exit status {status}); "
                  f"its console: {kept}", file=sys.stderr)
            return status or EXIT_GUEST
        request.handed_back = target
        _say(f"guest booted in {boot_seconds:.1f} s; run handed back: {target}")
        return (_draw(target) if request.draw else 0) or status
    return EXIT_GUEST


def _exit_status(share):
    """The command's exit status as the guest's init wrote it; a guest that stopped without
    writing one (a panic or an oops mid-run) failed, whatever its run folder holds."""
    try:
        return int((share / "exit-status").read_text().strip())
    except (OSError, ValueError):
        raise machine.GuestError("the guest stopped before its command finished (a kernel panic? "
                                 "its console says)") from None


KERNEL_LIST = Path(__file__).with_name("kernels.txt")


def listed_kernels(path=KERNEL_LIST):
    return [line.strip() for line in Path(path).read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def validity(run_dir):
    """{rung id: 'valid' | 'invalid: why' | 'skipped: why'} of one run folder."""
    block = json.loads((Path(run_dir) / "run.json").read_text())["pageladder"]
    table = {r["id"]: "valid" if r["valid"] else f"invalid: {r['why_invalid']}" for r in block["ladder"]}
    for skip in block["skipped"]:
        if skip.get("rung"):
            table.setdefault(skip["rung"], f"skipped: {skip['reason']}")
    return table


def test_kernels(request, kernels, native=True):
    """QUICK ladders on each kernel (and natively on this machine's own); writes
    results/test-kernels-<time>.md, a table of every rung on every kernel, and returns 0 only
    when no row was invalid and every run produced a ladder."""
    columns, failures = [], []
    if native:
        _say(f"this machine's own kernel ({platform.release()})")
        status, run_dir = _native_run(request)
        columns.append((f"{platform.release()} (this machine)", run_dir))
        if run_dir is None:
            failures.append(f"this machine's kernel: the run failed (status {status})")
    for spec in kernels:
        request.kernel, request.handed_back = spec, None
        status = run(request)
        columns.append((f"{spec} (guest)", request.handed_back))
        if request.handed_back is None:
            failures.append(f"{spec}: the guest produced no run (status {status})")
    tables = [(name, validity(run_dir) if run_dir else {}) for name, run_dir in columns]
    rungs = sorted({rung for _, table in tables for rung in table})
    lines = ["# Rows on every kernel (make test-kernels)", "",
             "| rung | " + " | ".join(name for name, _ in tables) + " |",
             "|---|" + "---|" * len(tables)]
    for rung in rungs:
        lines.append(f"| `{rung}` | " + " | ".join(table.get(rung, "—").replace("|", "/")
                                                   for _, table in tables) + " |")
        for name, table in tables:
            if table.get(rung, "").startswith("invalid"):
                failures.append(f"{name}: {rung} {table[rung]}")
    lines += ["", "Runs: " + ", ".join(f"{name}: `{run_dir}`" for name, run_dir in columns)]
    out = Path(request.results) / f"test-kernels-{time.strftime('%Y%m%d-%H%M%S')}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    for failure in failures:
        print(f"pageladder: test-kernels: {failure}", file=sys.stderr)
    _say(f"test-kernels: {'FAILED' if failures else 'every row valid or skipped'} ({out})")
    return 1 if failures else 0


def _native_run(request):
    """The same QUICK ladder on this machine; (status, run folder or None)."""
    results = Path(request.results).resolve()
    before = {p.name for p in results.iterdir()} if results.is_dir() else set()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "harness"))
    proc = subprocess.Popen([request.python, "-m", "pageladder", "bench", "--build-dir",
                             str(request.build_dir), "--results", str(results), *request.harness_args],
                            env=env)
    try:
        status = proc.wait()
    except KeyboardInterrupt:
        # The harness undoes its swap, zram and sysctls on SIGINT: let it, rather than kill it.
        proc.send_signal(signal.SIGINT)
        proc.wait()
        raise
    new = [p for p in results.iterdir() if p.name not in before and p.is_dir() and not p.is_symlink()
           and (p / "run.json").exists()]
    return status, (new[0] if new else None)
