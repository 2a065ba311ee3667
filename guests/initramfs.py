"""The guest's initramfs: static busybox, `init.sh` as /init, and the modules the guest loads
before it runs anything of the host's (virtio, 9p to reach the host's root, ext4 for its own
disk, zram for the swap rows), in dependency order from the kernel tree's modules.dep."""
import gzip
import lzma
import os
import shutil
import subprocess
from pathlib import Path

from guests.kernel import KernelError

INIT = Path(__file__).with_name("init.sh")
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

# (module, its arguments, required): what init.sh loads, in this order after its dependencies.
MODULES = (
    ("virtio_pci", "", True),
    ("virtio_blk", "", True),
    ("9pnet_virtio", "", True),
    ("9p", "", True),
    # ext4 asks the crypto API for crc32c at mount time: a module of its own, not a dependency.
    ("crc32c_generic", "", False),
    ("ext4", "", True),
    # num_devices=0: the harness hot-adds the device it uses, as on any machine.
    ("zram", "num_devices=0", False),
)


def static_busybox():
    for path in BUSYBOX_CANDIDATES:
        if Path(path).is_file():
            kind = subprocess.run(["file", "-L", path], capture_output=True, text=True).stdout \
                if shutil.which("file") else "statically linked"
            if "statically linked" in kind or "static-pie" in kind:
                return Path(path)
    raise KernelError("no static busybox (Debian's busybox-static; make deps KERNEL=... installs it)")


def _dependencies(modules_dir):
    """modules.dep as {name: (path relative to modules_dir, [dependency names])}."""
    def name_of(rel):
        base = Path(rel).name
        for suffix in (".xz", ".zst", ".gz"):
            base = base.removesuffix(suffix)
        return base.removesuffix(".ko").replace("-", "_")
    table = {}
    for line in (Path(modules_dir) / "modules.dep").read_text().splitlines():
        path, _, deps = line.partition(":")
        table[name_of(path)] = (path, [name_of(d) for d in deps.split()])
    return table


def _builtin(modules_dir):
    path = Path(modules_dir) / "modules.builtin"
    if not path.exists():
        return set()
    return {Path(line).name.removesuffix(".ko").replace("-", "_")
            for line in path.read_text().splitlines() if line}


def load_order(modules_dir, wanted=MODULES):
    """[(relative path, arguments)] in the order insmod must load them, and the optional ones
    the kernel lacks. Built-in modules need no loading; a missing required one is an error."""
    table, builtin = _dependencies(modules_dir), _builtin(modules_dir)
    order, seen, missing = [], set(), []

    def visit(name, args):
        if name in seen or name in builtin:
            return
        seen.add(name)
        path, deps = table[name]
        for dep in deps:
            visit(dep, "")
        order.append((path, args))

    for name, args, required in wanted:
        if name in table:
            visit(name, args)
        elif name not in builtin:
            if required:
                raise KernelError(f"the kernel has no {name} module, which a guest needs")
            missing.append(name)
    return order, missing


def _copy_module(source, target):
    """Copies a module, decompressed: busybox insmod loads plain .ko files."""
    source = Path(source)
    if source.suffix == ".xz":
        target.write_bytes(lzma.decompress(source.read_bytes()))
    elif source.suffix == ".gz":
        target.write_bytes(gzip.decompress(source.read_bytes()))
    elif source.suffix == ".zst":
        if not shutil.which("zstd"):
            raise KernelError(f"{source.name} is zstd-compressed and zstd is not installed")
        with open(target, "wb") as out:
            subprocess.run(["zstd", "-dc", str(source)], stdout=out, check=True)
    else:
        shutil.copyfile(source, target)


def build(tree, out_path, scratch, modules=MODULES):
    """Writes the initramfs (gzip'd newc cpio) to out_path, laying it out in `scratch` (a folder
    inside the guest's own, so that the reaper removes it too); returns the optional modules the
    kernel lacks (the guest runs without them, and the rows that need them skip). `modules`:
    what init.sh loads, as MODULES lists them."""
    order, missing = load_order(tree.modules, modules)
    busybox = static_busybox()
    root = Path(scratch)
    root.mkdir(parents=True)
    try:
        for d in ("bin", "dev", "proc", "sys", "modules", "host"):
            (root / d).mkdir()
        shutil.copyfile(busybox, root / "bin" / "busybox")
        os.chmod(root / "bin" / "busybox", 0o755)
        os.symlink("busybox", root / "bin" / "sh")
        shutil.copyfile(INIT, root / "init")
        os.chmod(root / "init", 0o755)
        lines = []
        for rel, args in order:
            plain = Path(rel).name
            for suffix in (".xz", ".zst", ".gz"):
                plain = plain.removesuffix(suffix)
            _copy_module(tree.modules / rel, root / "modules" / plain)
            lines.append(f"{plain} {args}".strip())
        (root / "modules.list").write_text("\n".join(lines) + "\n")
        names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        with open(out_path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "--owner=0:0"], cwd=root,
                                  input="\n".join(names).encode(), capture_output=True)
            if cpio.returncode != 0:
                raise KernelError(f"cpio failed: {cpio.stderr.decode().strip()[:200]}")
            gz.write(cpio.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return missing
