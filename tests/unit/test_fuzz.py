"""The fuzz budget's small share, run with every test run (bench/fuzz.py runs 10,000+ each).

Each target (tests/unit/fuzz_targets.py) is one of ccci's parsers of outside
input with an invariant that must hold for every generated input.
"""

import pytest
from hypothesis import HealthCheck, given, settings

from tests.unit.fuzz_targets import TARGETS

BUDGET = {"http": 150}  # examples per target; the rest get DEFAULT
DEFAULT = 300


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_every_parser_holds_its_invariant_on_generated_input(target):
    with target.open() as check:
        @settings(max_examples=BUDGET.get(target.name, DEFAULT), deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(target.inputs)
        def run(value):
            check(value)

        run()
