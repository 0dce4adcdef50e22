"""The front-door fixture's app behind traefik is never taken for a dead cold run.

Every cold or quick run reaps, at its start, stacks under its base domain
shaped like a cold run's (`<recipe[:4]>-<6hex>`) whose run is not live. The
app that tests/fixtures/production.py `Reconciles` puts behind the front door
lives on the bed's base domain beside such runs: named `site-<6hex>` it was
reaped in the middle of a benchmark (every request after it failed, 404).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ccci.capabilities.reaper import run_stack
from ccci.pure.names import Domain, RecipeName, RunId, cold_domain, stack_name
from tests.fixtures.production import behind_door_domain

tags = st.text("0123456789abcdef", min_size=6, max_size=6)
labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
bases = st.lists(labels, min_size=2, max_size=4).map(".".join)


@given(tags, bases)
def test_the_app_behind_the_front_door_is_not_a_cold_runs_stack(tag, base):
    stack = stack_name(Domain.parse(behind_door_domain(base, tag)))
    assert run_stack(stack, Domain.parse(base)) is None
    assert run_stack(stack, Domain.parse(base), prefix=True) is None


@given(tags, bases, st.sampled_from(["site", "website", "custom-html"]))
def test_a_cold_run_of_the_same_tag_is_one(tag, base, recipe):
    # The control: the reaper does know a cold run's stack of that tag, whatever its recipe.
    stack = stack_name(cold_domain(RecipeName.parse(recipe), RunId.parse(tag), Domain.parse(base)))
    assert run_stack(stack, Domain.parse(base)) == (tag, stack)
