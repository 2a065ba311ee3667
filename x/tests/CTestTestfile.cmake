# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/x/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[harness.pytest]=] "/root/.pyenv/shims/python3" "-m" "pytest" "-q" "-p" "no:cacheprovider" "/work/main/harness/tests")
set_tests_properties([=[harness.pytest]=] PROPERTIES  ENVIRONMENT "PYTHONPATH=/work/main/harness;MPLBACKEND=Agg;MPLCONFIGDIR=/work/main/x/mplconfig" LABELS "harness" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;4;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[e2e.bench_quick_minor_fault]=] "/root/.pyenv/shims/python3" "/work/main/tests/e2e/bench_quick.py" "--source" "/work/main" "--build" "/work/main/x" "--python" "/root/.pyenv/shims/python3")
set_tests_properties([=[e2e.bench_quick_minor_fault]=] PROPERTIES  LABELS "e2e" RUN_SERIAL "TRUE" TIMEOUT "600" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;10;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[processes.no_orphans]=] "/root/.pyenv/shims/python3" "/work/main/tests/processes/no_orphans.py" "/work/main/x/benchmarks/cow_fault_bench")
set_tests_properties([=[processes.no_orphans]=] PROPERTIES  LABELS "processes" RUN_SERIAL "TRUE" TIMEOUT "120" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;16;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[processes.no_leftover_files]=] "/root/.pyenv/shims/python3" "/work/main/tests/processes/no_leftover_files.py" "/work/main/x/benchmarks/file_fault_bench")
set_tests_properties([=[processes.no_leftover_files]=] PROPERTIES  LABELS "processes" RUN_SERIAL "TRUE" TIMEOUT "120" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;22;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[processes.swap_restore_after_sigkill]=] "/root/.pyenv/shims/python3" "/work/main/tests/processes/swap_restore.py" "/work/main" "/work/main/x" "/root/.pyenv/shims/python3")
set_tests_properties([=[processes.swap_restore_after_sigkill]=] PROPERTIES  LABELS "processes" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "300" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;28;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[processes.zswap_restore_after_sigkill]=] "/root/.pyenv/shims/python3" "/work/main/tests/processes/zswap_restore.py" "/work/main" "/work/main/x" "/root/.pyenv/shims/python3")
set_tests_properties([=[processes.zswap_restore_after_sigkill]=] PROPERTIES  ENVIRONMENT "PYTHONPATH=/work/main/harness;MPLBACKEND=Agg" LABELS "processes" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "300" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;35;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[processes.pool_restore_after_sigkill]=] "/root/.pyenv/shims/python3" "/work/main/tests/processes/pool_restore.py" "/work/main" "/work/main/x" "/root/.pyenv/shims/python3")
set_tests_properties([=[processes.pool_restore_after_sigkill]=] PROPERTIES  LABELS "processes" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "300" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;44;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[processes.anatomy_pass]=] "/root/.pyenv/shims/python3" "/work/main/tests/processes/anatomy_real.py" "/work/main" "/work/main/x" "/root/.pyenv/shims/python3")
set_tests_properties([=[processes.anatomy_pass]=] PROPERTIES  LABELS "processes" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "300" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;51;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[guests.pytest]=] "/root/.pyenv/shims/python3" "-m" "pytest" "-q" "-p" "no:cacheprovider" "/work/main/guests/tests")
set_tests_properties([=[guests.pytest]=] PROPERTIES  ENVIRONMENT "PYTHONPATH=/work/main/harness:/work/main" LABELS "guests" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;58;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[guests.debian_6_1]=] "/root/.pyenv/shims/python3" "/work/main/tests/guests/guest_kernel.py" "--source" "/work/main" "--build" "/work/main/x" "--python" "/root/.pyenv/shims/python3")
set_tests_properties([=[guests.debian_6_1]=] PROPERTIES  LABELS "guests;lab" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "900" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;65;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[fleet.bad_input]=] "/root/.pyenv/shims/python3" "/work/main/tests/fleet/fleet_bad_input.py" "/work/main" "/root/.pyenv/shims/python3")
set_tests_properties([=[fleet.bad_input]=] PROPERTIES  LABELS "fleet;lab" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "900" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;73;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[fleet.loopback]=] "/root/.pyenv/shims/python3" "/work/main/tests/fleet/fleet_loopback.py" "--source" "/work/main" "--python" "/root/.pyenv/shims/python3")
set_tests_properties([=[fleet.loopback]=] PROPERTIES  LABELS "fleet;lab" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "2400" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;84;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[fleet.guest]=] "/root/.pyenv/shims/python3" "/work/main/tests/fleet/fleet_guest.py" "--source" "/work/main" "--build" "/work/main/x" "--python" "/root/.pyenv/shims/python3")
set_tests_properties([=[fleet.guest]=] PROPERTIES  LABELS "fleet;lab" RUN_SERIAL "TRUE" SKIP_RETURN_CODE "77" TIMEOUT "4200" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;95;add_test;/work/main/tests/CMakeLists.txt;0;")
subdirs("unit")
