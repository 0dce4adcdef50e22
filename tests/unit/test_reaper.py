"""Which names the reaper takes for a cold run's: pure, so with generated names."""

from hypothesis import given
from hypothesis import strategies as st

from ccci.capabilities.reaper import run_stack
from ccci.pure.names import Domain, RecipeName, RunId, cold_domain, stack_name, warm_domain

recipes = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).map(RecipeName)
runs = st.from_regex(r"[0-9a-f]{6}", fullmatch=True).map(RunId)
labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
bases = st.lists(labels, min_size=2, max_size=5).map(lambda parts: Domain(".".join(parts)))
secret_tails = st.from_regex(r"[a-z_]{1,12}_v[0-9]{1,2}", fullmatch=True)


@given(recipe=recipes, run=runs, base=bases, tail=secret_tails)
def test_a_cold_runs_stack_and_its_secrets_are_recognised(recipe, run, base, tail):
    stack = stack_name(cold_domain(recipe, run, base))
    assert run_stack(stack, base) == (run.value, stack)
    assert run_stack(f"{stack}_{tail}", base, prefix=True) == (run.value, stack)
    assert run_stack(f"{stack}_{tail}", base) is None  # a label names the stack exactly


@given(recipe=recipes, base=bases, tail=st.sampled_from(["", "_app", "_db_password_v1"]))
def test_a_canonical_is_never_taken_for_a_run(recipe, base, tail):
    assert run_stack(stack_name(warm_domain(recipe, base)) + tail, base, prefix=True) is None


short_bases = st.lists(st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True), min_size=2, max_size=3).map(
    lambda parts: Domain(".".join(parts))
)  # short enough that abra's 45-character cut never applies


@given(recipe=recipes, run=runs, base=short_bases, other=short_bases)
def test_a_run_of_another_base_domain_is_not_ours(recipe, run, base, other):
    theirs = stack_name(cold_domain(recipe, run, other))
    assert (run_stack(theirs, base) is None) == (other != base)


def test_names_that_only_look_alike_are_kept():
    base = Domain("ccci.test")
    for name in ["proxy", "keycloak_ccci_test", "fx-w-3fa9c1", "fx-w-3fa9c1_other_test", "fx-w-3FA9C1_ccci_test",
                 "fx-w-3fa9c_ccci_test", "warm-abcdef_ccci_test", "-3fa9c1_ccci_test", "fx-w-3fa9c1_ccci_tests"]:
        assert run_stack(name, base, prefix=True) is None, name
