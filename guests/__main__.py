"""`python3 -m guests bench --kernel K [options] -- <harness bench arguments>` (make bench KERNEL=);
`python3 -m guests exec --kernel K [options] -- <command>`: any command in such a guest (the
checkout as its working folder), its exit status returned: for looking at a kernel by hand;
`python3 -m guests serve --kernel K --ssh-port P --authorized-keys F`: such a guest as a lab
machine, answering SSH on 127.0.0.1:P until stopped, for `make fleet` (guests/lab_host.py);
`python3 -m guests compare --kernels "K1 K2" [--only ...] [--budget M] -- <harness bench
arguments>`: the kernels measured in guests, interleaved (make compare KERNELS=, guests/rounds.py)."""
import argparse
import signal
import sys
from pathlib import Path

from guests import bench


def build_parser():
    parser = argparse.ArgumentParser(prog="guests", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("bench", "run the harness's bench inside a guest on another kernel"),
                       ("exec", "run a command inside a guest on another kernel"),
                       ("test-kernels", "QUICK ladders on every kernel of guests/kernels.txt and "
                                        "this machine's own; fails on any invalid row")):
        _guest_options(sub.add_parser(name, help=text), kernel_required=name != "test-kernels")
    serve = sub.add_parser("serve", help="a guest as a lab machine: SSH on a loopback port until stopped")
    _guest_options(serve, kernel_required=True)
    serve.add_argument("--ssh-port", type=_port, required=True, help="the port on 127.0.0.1 that reaches its sshd")
    serve.add_argument("--authorized-keys", required=True, help="public keys that may log in as root")
    serve.set_defaults(run_timeout=0)  # until stopped
    compare = sub.add_parser("compare", help="kernels measured in guests, interleaved round after round")
    _guest_options(compare, kernel_required=False)
    compare.add_argument("--kernels", required=True, help="the sides: kernels separated by spaces, A first")
    compare.add_argument("--only", action="append", help="short names of the benchmarks to run")
    compare.add_argument("--budget", type=float, default=10.0, help="minutes of rounds at most")
    compare.add_argument("--equiv", type=float, help="the margin of 'same', in percent (default 5)")
    compare.add_argument("--fail-on-slower", action="store_true")
    return parser


def _port(text):
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return int(text)


def _guest_options(run, kernel_required):
    run.add_argument("--kernel", required=kernel_required,
                     help="a Debian kernel package, a .deb or a kernel image (test-kernels: only this one)")
    run.add_argument("--kernel-modules", default="", help="the image's lib/modules/<release> folder")
    run.add_argument("--cgroup", choices=("v1", "v2"), default="v2")
    run.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    run.add_argument("--cpus", type=int, default=0)
    run.add_argument("--memory-mib", type=int, default=4096)
    run.add_argument("--build-dir", default="build")
    run.add_argument("--results", default="results")
    run.add_argument("--python", default=sys.executable)
    run.add_argument("--boot-timeout", type=int, default=120)
    run.add_argument("--run-timeout", type=int, default=3600)
    run.add_argument("harness_args", nargs=argparse.REMAINDER)


def main(argv=None):
    args = build_parser().parse_args(argv)
    # SIGTERM and SIGHUP unwind like Ctrl-C: every `finally` stops qemu and removes the staging.
    def interrupt(signum, frame):
        raise KeyboardInterrupt()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    try:
        return _main(args)
    except KeyboardInterrupt:
        if args.command == "serve":  # how a lab host is meant to end
            print("pageladder: the guest was stopped; nothing left behind", flush=True)
            return 0
        print("pageladder: the guest was interrupted; qemu stopped, nothing left behind", file=sys.stderr)
        return 130


def _main(args):
    harness_args = args.harness_args[1:] if args.harness_args[:1] == ["--"] else args.harness_args
    request = bench.GuestRequest(
        kernel=args.kernel or "", harness_args=harness_args, build_dir=Path(args.build_dir),
        results=Path(args.results), python=args.python, cgroup=args.cgroup, accel=args.accel,
        cpus=args.cpus, memory_mib=args.memory_mib, kernel_modules=args.kernel_modules,
        boot_timeout_s=args.boot_timeout, run_timeout_s=args.run_timeout,
        exec_command=tuple(harness_args) if args.command == "exec" else (),
        ssh_port=getattr(args, "ssh_port", 0), authorized_keys=getattr(args, "authorized_keys", ""))
    if args.command == "compare":
        return _compare(args, request)
    if args.command == "test-kernels":
        kernels = [args.kernel] if args.kernel else bench.listed_kernels()
        return bench.test_kernels(request, kernels, native=not args.kernel)
    return bench.run(request)


def _compare(args, request):
    from guests import rounds
    from pageladder import config, stats
    kernels = args.kernels.split()
    if len(kernels) < 2:
        print(f"pageladder: KERNELS={args.kernels!r}: two kernels or more (one kernel twice is an A/A)",
              file=sys.stderr)
        return 2
    try:
        selected = config.select_benchmarks(args.only)
    except ValueError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return 2
    equiv = stats.EQUIV if args.equiv is None else args.equiv / 100
    return rounds.compare(request, kernels, request.harness_args, selected, 60.0 * args.budget, equiv,
                          args.fail_on_slower)


if __name__ == "__main__":
    sys.exit(main())
