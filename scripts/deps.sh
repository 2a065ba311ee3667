#!/bin/sh
# Installs the Debian packages pageladder needs that are missing; says what it installs and
# does nothing when everything is present. Root runs apt-get directly, others through sudo.
set -eu
PACKAGES="cmake g++ make libbenchmark-dev libbenchmark-tools libpfm4-dev libfmt-dev libgtest-dev
nlohmann-json3-dev python3 python3-matplotlib python3-pytest python3-scipy python3-numpy python3-statsmodels python3-jsonschema util-linux mount procps linux-perf"
# A guest on another kernel (make bench KERNEL=..., make test-kernels, CI's guest check).
if [ -n "${GUEST_DEPS:-}" ]; then
  PACKAGES="$PACKAGES qemu-system-x86 busybox-static cpio kmod e2fsprogs file"
fi
# A lab (make fleet INVENTORY=..., CI's fleet check: an SSH server on loopback).
if [ -n "${FLEET_DEPS:-}" ]; then
  PACKAGES="$PACKAGES ansible-core openssh-client openssh-server git tar"
fi

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0

echo "pageladder: installing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "pageladder: not root and no sudo: install these packages by hand:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# apt's own output goes to a log, shown only if it fails (V=1: shown as it comes).
log=${PAGELADDER_DEPS_LOG:-build/deps.log}
mkdir -p "$(dirname "$log")"
if [ -n "${V:-}" ]; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
  exit
fi
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "pageladder: installing the packages failed (whole log: $log)" >&2
  exit 1
fi
echo "pageladder: installed (apt's output: $log)"
