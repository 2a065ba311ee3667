# pageladder: thin verbs over scripts/make-verb (the names users rely on: docs/names.md).
#
# No variable is ever pasted into shell text. Each one below is taken literally ($(value): make
# expands nothing inside it, not even $(shell ...)) and reaches scripts/make-verb as the
# environment variable PAGELADDER_<NAME>; make-verb checks every one of them first
# (harness/pageladder/inputs.py: one line and exit 2 for a bad value) and passes them on only as
# arguments.
BUILD_DIR ?= build
RESULTS   ?= results
# make bench (docs/names.md): QUICK=1, ONLY="...", NO_SYSTEM_CHANGES=1, FILE_DIR=, SWAP_DIR=,
# TLB_PAGES="<hit> <stlb> <walk>", V=1, CPU=<n>, ANATOMY=1, PYTHON=<interpreter>.
QUICK     ?=
ONLY      ?=
NO_SYSTEM_CHANGES ?=
FILE_DIR  ?=
SWAP_DIR  ?=
TLB_PAGES ?=
V         ?=
CPU       ?=
ANATOMY   ?=
PYTHON    ?=
# A guest on another kernel (guests/): KERNEL=<package|.deb|image>, KERNEL_MODULES=<folder>,
# CGROUP=v1|v2 (default v2), ACCEL=auto|kvm|tcg (default auto).
KERNEL    ?=
KERNEL_MODULES ?=
CGROUP    ?=
ACCEL     ?=
CMAKE_BUILD_TYPE ?= Release
# make build's CMake targets (empty: everything); the compilers (default: CMake's choice).
TARGETS   ?=
# make's own defaults (g++, cc) are not a choice of the user's.
override CXX := $(if $(filter default,$(origin CXX)),,$(value CXX))
override CC  := $(if $(filter default,$(origin CC)),,$(value CC))
# What make deps installs beyond the base: qemu and busybox (GUEST_DEPS=1, implied by KERNEL=
# and the lab tier), Ansible and an SSH server (FLEET_DEPS=1, implied by INVENTORY= and the lab
# tier).
GUEST_DEPS ?=
FLEET_DEPS ?=
# A lab (fleet/): INVENTORY=<Ansible inventory>, LIMIT=<pattern>, FORKS=<n>, FLEET=<fleet folder>.
INVENTORY ?=
LIMIT     ?=
FORKS     ?= 5
FLEET     ?=
# make plot RUN=<dir>; make compare A= B= | RUNS= | FLEET=, ORDER=given|kernel, FAIL_ON_SLOWER=1,
# HISTORY=0.
RUN       ?=
A         ?=
B         ?=
RUNS      ?=
ORDER     ?=
FAIL_ON_SLOWER ?=
HISTORY   ?=

USER_VARIABLES := BUILD_DIR RESULTS QUICK ONLY NO_SYSTEM_CHANGES FILE_DIR SWAP_DIR TLB_PAGES V CPU \
  ANATOMY PYTHON KERNEL KERNEL_MODULES CGROUP ACCEL CMAKE_BUILD_TYPE TARGETS CXX CC GUEST_DEPS FLEET_DEPS \
  INVENTORY LIMIT FORKS FLEET RUN A B RUNS ORDER FAIL_ON_SLOWER HISTORY SETTINGS KERNELS BUDGET EQUIV
# Literal, once: a command-line or environment value is otherwise expanded by make itself.
$(foreach v,$(USER_VARIABLES),$(eval override $(v) := $$(value $(v))))
$(foreach v,$(USER_VARIABLES),$(eval export PAGELADDER_$(v) := $$(value $(v))))
# Under their plain names they reach no command (cmake, apt, qemu ... read their own V or CPU).
unexport $(USER_VARIABLES)

VERBS := deps build bench test test-lab test-kernels plot fleet compare restore clean
.PHONY: all $(VERBS)
all: build

$(VERBS):
	@scripts/make-verb $@
