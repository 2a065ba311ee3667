"""anatomy_phases.py: the phase table on recorded call chains."""
from pathlib import Path

import pytest

from pageladder.anatomy_phases import PHASE_NAMES, classify

FIXTURES = Path(__file__).parent / "fixtures" / "anatomy"


def recorded_chains():
    cases = []
    for line in (FIXTURES / "recorded_chains.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        phase, chain = (part.strip() for part in line.split("|", 1))
        cases.append(pytest.param(phase, chain.split(";"), id=f"{phase}: {chain.split(';')[-1]}"))
    return cases


@pytest.mark.parametrize("phase, outermost_first", recorded_chains())
def test_the_table_gives_each_recorded_chain_its_phase(phase, outermost_first):
    assert classify(list(reversed(outermost_first)))[0] == phase


def test_a_chain_of_user_frames_only_is_user_space():
    assert classify([])[0] == "user space"


def test_every_phase_of_the_recorded_chains_is_in_the_table():
    assert {c.values[0] for c in recorded_chains()} <= set(PHASE_NAMES)
