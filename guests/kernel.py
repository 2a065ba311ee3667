"""What KERNEL= names, made into a kernel tree: a bzImage, its release and its modules folder.

KERNEL= takes a Debian kernel package (a meta package such as `linux-image-amd64` is followed to
the image it depends on), a `.deb` file, or a kernel image, whose modules are found beside it as
an extracted package lays them out (`<root>/boot/vmlinuz-<release>` and
`<root>/lib/modules/<release>/`) or named with KERNEL_MODULES=. Packages are fetched with
`apt-get download` and unpacked once under build/kernels/. The modules' dependencies come from
`depmod`, run on the unpacked tree (Debian's packages ship no modules.dep)."""
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class KernelError(Exception):
    """KERNEL= cannot be made into a bootable kernel; the message says why in one line."""


@dataclass(frozen=True)
class KernelTree:
    name: str          # what KERNEL= said, for messages and the run's record
    release: str       # uname -r of the booted kernel
    image: Path        # the bzImage
    modules: Path      # <...>/lib/modules/<release>
    package: str = ""  # the Debian package and version it came from, when it came from one


BZIMAGE_MAGIC_OFFSET, BZIMAGE_MAGIC = 0x202, b"HdrS"
PACKAGE_NAME = re.compile(r"^linux-image-[a-z0-9.+-]+$")


def is_bzimage(path):
    try:
        with open(path, "rb") as f:
            f.seek(BZIMAGE_MAGIC_OFFSET)
            return f.read(4) == BZIMAGE_MAGIC
    except OSError:
        return False


def _run(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise KernelError(f"{cmd[0]} is not installed (make deps KERNEL=... installs what guests need)") from e


def _depmod(root, release):
    result = _run(["depmod", "-b", str(root), release])
    if result.returncode != 0:
        raise KernelError(f"depmod failed on {root}: {result.stderr.strip()[:200]}")


def unpack_deb(deb, cache):
    """The package's contents under cache/<package>_<version>/ (unpacked once); returns
    (folder, package, version, depends)."""
    fields = _run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"])
    if fields.returncode != 0:
        raise KernelError(f"{deb} is not a Debian package: {fields.stderr.strip()[:200]}")
    info = dict(line.split(": ", 1) for line in fields.stdout.splitlines() if ": " in line)
    package, version = info.get("Package", ""), info.get("Version", "")
    # The fields name a folder that is emptied and unpacked into: Debian's own syntax only
    # (policy 5.6.1 and 5.6.12), so no '/' or '..' ever leads out of the cache.
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", package) or not re.fullmatch(r"[0-9A-Za-z.+~:-]+", version) \
            or ".." in version:
        raise KernelError(f"{deb}: its Package {package!r} or Version {version!r} is not a Debian package's")
    folder = Path(cache) / f"{package}_{version}"
    if not (folder / ".unpacked").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        result = _run(["dpkg-deb", "-x", str(deb), str(folder)])
        if result.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise KernelError(f"cannot unpack {deb}: {result.stderr.strip()[:200]}")
        (folder / ".unpacked").write_text("")
    return folder, package, version, info.get("Depends", "")


def _tree_in(folder, name, package=""):
    images = sorted(Path(folder).glob("boot/vmlinuz-*"))
    if not images:
        return None
    image = images[0]
    release = image.name[len("vmlinuz-"):]
    modules = Path(folder) / "lib" / "modules" / release
    if not modules.is_dir():
        raise KernelError(f"{name}: no modules folder lib/modules/{release} beside {image.name}")
    if not (modules / "modules.dep").exists():
        _depmod(folder, release)
    return KernelTree(name=name, release=release, image=image, modules=modules, package=package)


def download(package, cache):
    """apt-get download into cache/debs/ (once for each version); returns the .deb's path."""
    debs = Path(cache) / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    result = _run(["apt-get", "download", package], cwd=debs)
    if result.returncode != 0 and "Unable to locate" in result.stderr and Path("/var/lib/apt").exists():
        _run(["apt-get", "update", "-qq"])  # a fresh machine's package lists may be empty
        result = _run(["apt-get", "download", package], cwd=debs)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise KernelError(f"KERNEL={package}: apt-get download failed: {last}")
    found = sorted(debs.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise KernelError(f"KERNEL={package}: apt-get download left no {package}_*.deb")
    return found[-1]


def from_package(package, cache, depth=0):
    if not PACKAGE_NAME.match(package):
        raise KernelError(f"KERNEL={package} is neither a file nor a Debian kernel package name "
                          f"(linux-image-...)")
    folder, name, version, depends = unpack_deb(download(package, cache), cache)
    tree = _tree_in(folder, package, f"{name} {version}")
    if tree:
        return tree
    # A meta package (linux-image-amd64): follow it to the image package it depends on.
    images = [d.split()[0] for d in depends.split(",") if d.strip().startswith("linux-image-")]
    if not images or depth > 2:
        raise KernelError(f"KERNEL={package}: the package holds no boot/vmlinuz-* and depends on "
                          f"no linux-image package")
    return from_package(images[0], cache, depth + 1)


def from_image(image, modules_dir=None):
    image = Path(image)
    if not is_bzimage(image):
        raise KernelError(f"KERNEL={image} is not a kernel image (no bzImage header)")
    if modules_dir:
        modules = Path(modules_dir)
    else:
        release = image.name[len("vmlinuz-"):] if image.name.startswith("vmlinuz-") else ""
        modules = image.parent.parent / "lib" / "modules" / release
        if not release or not modules.is_dir():
            raise KernelError(f"KERNEL={image}: name its modules folder with KERNEL_MODULES="
                              f"<...>/lib/modules/<release>")
    if not modules.is_dir():
        raise KernelError(f"KERNEL_MODULES={modules} is not a folder")
    if not (modules / "modules.dep").exists():
        root = modules.parent.parent.parent
        if modules.parent.name != "modules" or modules.parent.parent.name != "lib":
            raise KernelError(f"KERNEL_MODULES={modules} has no modules.dep and is not laid out "
                              f"as <root>/lib/modules/<release> for depmod")
        _depmod(root, modules.name)
    return KernelTree(name=str(image), release=modules.name, image=image, modules=modules)


def resolve(spec, cache, modules_dir=None):
    """KERNEL=<spec> as a KernelTree; raises KernelError with one line saying what is wrong."""
    path = Path(spec)
    if path.is_file() and spec.endswith(".deb"):
        folder, name, version, _ = unpack_deb(path, cache)
        tree = _tree_in(folder, spec, f"{name} {version}")
        if not tree:
            raise KernelError(f"KERNEL={spec}: the package holds no boot/vmlinuz-*")
        return tree
    if path.is_file():
        return from_image(path, modules_dir)
    if "/" in spec or spec.endswith(".deb"):
        raise KernelError(f"KERNEL={spec}: no such file")
    return from_package(spec, cache)
