# pageladder: thin verbs over CMake and the Python harness (the names users rely on: docs/names.md).
BUILD_DIR ?= build
RESULTS   ?= results
QUICK     ?=
ONLY      ?=
NO_SYSTEM_CHANGES ?=
FILE_DIR  ?=
SWAP_DIR  ?=
TLB_PAGES ?=
V         ?=
CPU       ?=
ANATOMY   ?=
# A guest on another kernel (guests/): KERNEL=<package|.deb|image>, KERNEL_MODULES=<folder>,
# CGROUP=v1|v2 (default v2), ACCEL=auto|kvm|tcg (default auto).
KERNEL    ?=
KERNEL_MODULES ?=
CGROUP    ?=
ACCEL     ?=
CMAKE_BUILD_TYPE ?= Release
# make build's CMake targets (empty: everything); make bench sets them to what it runs.
TARGETS   ?=
# -Werror where CI runs (CI=true), warnings only elsewhere.
WERROR    := $(if $(filter true 1,$(CI)),ON,OFF)

# The interpreter is chosen when a recipe runs (after `make deps` may have installed
# matplotlib), unless PYTHON= names one.
FIND_PYTHON = $(if $(PYTHON),scripts/find-python --require "$(PYTHON)",scripts/find-python)
HARNESS = PYTHONPATH=$(CURDIR)/harness MPLBACKEND=Agg $$($(FIND_PYTHON)) -m pageladder
GUESTS = PYTHONPATH=$(CURDIR)/harness:$(CURDIR) MPLBACKEND=Agg $$($(FIND_PYTHON)) -m guests
# The same run, on this machine or in a guest.
BENCH_ARGS = $(if $(QUICK),--quick) $(if $(NO_SYSTEM_CHANGES),--no-system-changes) \
  $(if $(ONLY),--only "$(ONLY)") $(if $(FILE_DIR),--file-dir "$(FILE_DIR)") \
  $(if $(SWAP_DIR),--swap-dir "$(SWAP_DIR)") $(if $(TLB_PAGES),--tlb-pages "$(TLB_PAGES)") \
  $(if $(V),--verbose) $(if $(CPU),--cpu "$(CPU)") \
  $(if $(filter 1 true yes,$(ANATOMY)),--anatomy)
GUEST_ARGS = --build-dir $(BUILD_DIR) --results "$(RESULTS)" --python "$$($(FIND_PYTHON))" \
  $(if $(KERNEL_MODULES),--kernel-modules "$(KERNEL_MODULES)") $(if $(CGROUP),--cgroup "$(CGROUP)") \
  $(if $(ACCEL),--accel "$(ACCEL)")
# What guests need (qemu, busybox ...) is installed only when a guest is asked for.
GUEST_DEPS ?= $(if $(KERNEL)$(filter test-kernels,$(MAKECMDGOALS)),1)
# A lab (fleet/): INVENTORY=<Ansible inventory>, LIMIT=<pattern>, FORKS=<n>, FLEET=<fleet folder>.
INVENTORY ?=
LIMIT     ?=
FORKS     ?= 5
FLEET     ?=
FLEET_DEPS ?= $(if $(INVENTORY),1)
# make bench's own variables, as each fleet host gets them.
FLEET_BENCH_ARGS = $(if $(QUICK),QUICK=1) $(if $(ONLY),ONLY="$(ONLY)") $(if $(filter 1 true yes,$(ANATOMY)),ANATOMY=1)

.PHONY: all build deps bench fleet test test-kernels plot compare restore clean
all: build

deps:
	@V="$(V)" GUEST_DEPS="$(GUEST_DEPS)" FLEET_DEPS="$(FLEET_DEPS)" scripts/deps.sh

build:
	@# A build folder configured for another source folder (a moved or copied checkout) is
	@# configured anew rather than failing with CMake's "directory is different".
	@if [ -f $(BUILD_DIR)/CMakeCache.txt ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$(CURDIR)" $(BUILD_DIR)/CMakeCache.txt; then \
	  echo "pageladder: $(BUILD_DIR)/ was configured for another checkout; configuring it anew"; \
	  rm -rf $(BUILD_DIR)/CMakeCache.txt $(BUILD_DIR)/CMakeFiles; fi
	@mkdir -p $(BUILD_DIR); py=$$($(FIND_PYTHON) 2>/dev/null || command -v python3); \
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) \
	  -DPAGELADDER_WERROR=$(WERROR) -DPython3_EXECUTABLE=$$py > $(BUILD_DIR)/configure.log 2>&1 \
	  || { cat $(BUILD_DIR)/configure.log; exit 1; }
	@if [ -n "$(V)" ]; then cmake --build $(BUILD_DIR) --parallel $(if $(TARGETS),--target $(TARGETS)); else \
	  echo "pageladder: building $(if $(TARGETS),$(words $(TARGETS)) targets,everything) in $(BUILD_DIR)/ (output: $(BUILD_DIR)/build.log)"; \
	  cmake --build $(BUILD_DIR) --parallel $(if $(TARGETS),--target $(TARGETS)) > $(BUILD_DIR)/build.log 2>&1 \
	  || { tail -n 200 $(BUILD_DIR)/build.log; echo "pageladder: the build failed (whole log: $(BUILD_DIR)/build.log)" >&2; exit 1; }; fi

# make bench builds only the binaries it runs (a guest under emulation compiles what it measures).
bench: deps
	@targets=$$($(HARNESS) targets $(if $(ONLY),--only "$(ONLY)")) || exit 2; \
	  $(MAKE) --no-print-directory build TARGETS="$$targets"
	@$(if $(KERNEL),$(GUESTS) bench --kernel "$(KERNEL)" $(GUEST_ARGS) -- $(BENCH_ARGS),$(HARNESS) bench --build-dir $(BUILD_DIR) --results "$(RESULTS)" $(BENCH_ARGS))

test: deps build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900

# QUICK ladders in guests on every kernel of guests/kernels.txt and on this machine's own;
# fails on any invalid row.
test-kernels: deps build
	@$(GUESTS) test-kernels $(GUEST_ARGS) $(if $(KERNEL),--kernel "$(KERNEL)") -- --quick $(BENCH_ARGS)

plot:
	@test -n "$(RUN)" || { echo "usage: make plot RUN=<results/run-folder>" >&2; exit 2; }
	@$(HARNESS) plot "$(RUN)"

fleet: deps
	@test -n "$(INVENTORY)" || { echo "usage: make fleet INVENTORY=<Ansible inventory> [QUICK=1] [ONLY=...] [ANATOMY=1] [LIMIT=<pattern>] [FORKS=<n>] [FLEET=results/fleet-<id>]" >&2; exit 2; }
	@$$($(FIND_PYTHON)) fleet/fleet.py --inventory "$(INVENTORY)" --results "$(RESULTS)" --forks "$(FORKS)" \
	  $(if $(LIMIT),--limit "$(LIMIT)") $(if $(FLEET),--fleet "$(FLEET)") --bench-args '$(strip $(FLEET_BENCH_ARGS))'

compare:
	@test -n "$(RUNS)$(FLEET)" -o \( -n "$(A)" -a -n "$(B)" \) || \
	  { echo "usage: make compare A=<run> B=<run>  (or RUNS=\"<run> <run> ...\", or FLEET=results/fleet-<id>)" >&2; exit 2; }
	@test -z "$(RUNS)" -o \( -z "$(A)" -a -z "$(B)" \) || \
	  { echo "make compare: give either A= and B=, or RUNS=, not both" >&2; exit 2; }
	@$(HARNESS) compare $(if $(FLEET),--fleet "$(FLEET)",$(if $(RUNS),--runs $(RUNS),--side "$(A)" --side "$(B)")) \
	  $(if $(filter 1 true yes,$(FAIL_ON_SLOWER)),--fail-on-slower) $(if $(ORDER),--order "$(ORDER)") \
	  $(if $(filter 0 no false,$(HISTORY)),--no-history) --results "$(RESULTS)"

restore:
	@$(HARNESS) restore

clean:
	rm -rf $(BUILD_DIR)
