"""The make variables' rules (pageladder.inputs): what each accepts and what it refuses, in one
line naming the variable. The end-to-end check that no variable reaches a shell through make is
tests/e2e/hostile_inputs.py."""
import pytest

from pageladder import inputs


@pytest.mark.parametrize("name, value", [
    ("QUICK", "1"), ("QUICK", "0"), ("QUICK", "true"), ("QUICK", ""), ("ANATOMY", "yes"),
    ("ONLY", "minor_fault cow_fault"), ("ONLY", "minor_fault,swap_in"),
    ("CPU", "3"), ("TLB_PAGES", "16 256 131072"),
    ("RESULTS", "/var/tmp/my results"), ("SWAP_DIR", "/scratch/swap-1"), ("FILE_DIR", "relative/dir"),
    ("KERNEL", "linux-image-amd64"), ("KERNEL", "/srv/kernels/vmlinuz-6.1"), ("KERNEL", "debs/linux-image-6.1.deb"),
    ("CGROUP", "v1"), ("ACCEL", "tcg"), ("ORDER", "kernel"), ("FORKS", "5"), ("LIMIT", "zen*:&lab:!slow"),
    ("A", "results/r1 results/r2"), ("TARGETS", "minor_fault_bench demand_paging"), ("CXX", "/usr/bin/clang++"),
])
def test_what_a_user_types_is_accepted(name, value):
    inputs.check(name, value)


@pytest.mark.parametrize("name, value, words", [
    ("QUICK", "maybe", "say 1 or 0"),
    ("ONLY", "minor_fault; rm", "unknown benchmark name"),
    ("CPU", "1 2", "whole number"), ("CPU", "99999", "whole number"),
    ("TLB_PAGES", "256 16 131072", "three increasing"),
    ("RESULTS", "/tmp/$(id)", "'$'"), ("RESULTS", "-rf", "starts with '-'"), ("FILE_DIR", "a\"b", "'\"'"),
    ("SWAP_DIR", "/tmp/a;b", "';'"), ("RUN", "x`id`", "'`'"), ("RESULTS", "a\nb", "control character"),
    ("KERNEL", "Linux Image", "Debian kernel package"), ("CGROUP", "v3", "one of v1, v2"),
    ("FORKS", "0", "from 1 to 500"), ("LIMIT", "a b", "host pattern"), ("TARGETS", "a;b", "names of letters"),
    ("RESULTS", "x" * 5000, "at most 4096"),
])
def test_a_bad_value_is_one_line_naming_the_variable(name, value, words):
    with pytest.raises(inputs.InputError) as caught:
        inputs.check(name, value)
    message = str(caught.value)
    assert message.startswith(name) and words in message and "\n" not in message


def test_every_rule_is_checked_from_the_environment_make_sets():
    env = {"PAGELADDER_ONLY": "minor_fault", "PAGELADDER_CPU": "x", "UNRELATED": "$(id)"}
    assert inputs.from_environment(env) == {"ONLY": "minor_fault", "CPU": "x"}
    with pytest.raises(inputs.InputError, match="CPU"):
        inputs.check_all(inputs.from_environment(env))


def test_flags_read_as_make_did_and_zero_is_off():
    assert [inputs.is_on(v) for v in ("1", "true", "YES", "on")] == [True] * 4
    assert [inputs.is_on(v) for v in ("", "0", "false", "no", None)] == [False] * 5


def test_a_fleet_hosts_variables_are_a_subset_with_rules():
    assert set(inputs.HOST_VARIABLES) <= set(inputs.RULES)
    with pytest.raises(inputs.InputError, match="not a pageladder variable"):
        inputs.check("LD_PRELOAD", "/tmp/x.so")
