"""anatomy_prerequisites.py: what the machine allows, said as the reason the pass is skipped,
and the counter that samples."""
import pytest

from pageladder import anatomy_prerequisites


def test_without_root_and_a_strict_paranoid_level_it_is_skipped_with_the_reason():
    with pytest.raises(anatomy_prerequisites.AnatomySkipped, match="perf_event_paranoid <= 1 \\(it is 2\\)"):
        anatomy_prerequisites.check_prerequisites(is_root=False, paranoid=2)


def test_hidden_kernel_symbols_are_a_skip_not_a_chart_of_unknowns():
    with pytest.raises(anatomy_prerequisites.AnatomySkipped, match="kptr_restrict = 1"):
        anatomy_prerequisites.check_prerequisites(is_root=False, paranoid=1, kptr_restrict=1)


def test_without_perf_it_is_skipped_naming_the_package():
    with pytest.raises(anatomy_prerequisites.AnatomySkipped, match="linux-perf"):
        anatomy_prerequisites.check_prerequisites(perf="/nonexistent/perf", is_root=True, paranoid=2)


def test_the_pmu_samples_cycles_and_cpu_clock_says_what_it_costs():
    assert anatomy_prerequisites.sampling_counter(True)["event"] == "cycles"
    without = anatomy_prerequisites.sampling_counter(False)
    assert without["event"] == "cpu-clock" and "interrupts off" in without["note"]
