"""Names that reach paths, domains and argv: valid ones round-trip, hostile ones are refused."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.pure.names import (
    STACK_NAME_MAX,
    BadInput,
    Domain,
    RecipeName,
    Ref,
    RunId,
    Stage,
    cold_domain,
    parse_stages,
    stack_name,
    warm_domain,
)

recipes = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", fullmatch=True)
labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=2, max_size=4).map(".".join)
hexes = st.from_regex(r"[0-9a-f]{6}", fullmatch=True)


@pytest.mark.parametrize("name", ["a", "0", "custom-html", "lasuite-docs", "a-b", "9-9", "x" * 64, "a--b"])
def test_valid_recipe_names_from_the_table_are_accepted(name):
    assert RecipeName.parse(name).value == name


@given(recipes)
def test_valid_recipe_names_round_trip(name):
    assert RecipeName.parse(name).value == name


@pytest.mark.parametrize(
    "name",
    ["", "-x", "x-", "Custom", "a_b", "a/b", "../etc", "a b", "a;rm -rf /", "a" * 65, "ä", "a\n"],
)
def test_hostile_recipe_names_are_refused(name):
    with pytest.raises(BadInput, match="bad recipe name"):
        RecipeName.parse(name)


@given(st.text(max_size=80))
def test_a_recipe_name_never_carries_path_or_shell_characters(text):
    try:
        name = RecipeName.parse(text)
    except BadInput:
        return
    assert re.fullmatch(r"[a-z0-9-]+", name.value)


@pytest.mark.parametrize(
    "ref", ["main", "1.1.0+1.35.0", "broken/unhealthy", "refs/pull/12/head", "a1b2c3d4", "v3.6.15"]
)
def test_usual_refs_are_accepted(ref):
    assert Ref.parse(ref).value == ref


@pytest.mark.parametrize(
    "ref",
    ["", "-n", "--upload-pack=evil", "a..b", "a b", "x;y", "$(id)", "a/", "a.lock", "a@{1}", "a//b",
     "a/.hidden", "a.", "`id`", "x" * 201],
)
def test_hostile_refs_are_refused(ref):
    with pytest.raises(BadInput, match="bad ref"):
        Ref.parse(ref)


@given(st.text(max_size=60))
def test_an_accepted_ref_never_reads_as_an_option(text):
    try:
        ref = Ref.parse(text)
    except BadInput:
        return
    assert not ref.value.startswith("-") and ".." not in ref.value


@given(domains)
def test_valid_domains_round_trip(domain):
    assert Domain.parse(domain).value == domain


@pytest.mark.parametrize("domain", ["localhost", "Ci.Test", "a..b", "-a.b", "a-.b", "a_b.c", "a.b/c", "a" * 64 + ".b"])
def test_bad_domains_are_refused(domain):
    with pytest.raises(BadInput, match="bad domain"):
        Domain.parse(domain)


# Written by hand: the first four characters of the recipe, without a trailing hyphen.
@pytest.mark.parametrize(("recipe", "run", "base", "domain"), [
    ("custom-html", "abc123", "ci.test", "cust-abc123.ci.test"),
    ("fx-web", "000000", "ci.test", "fx-w-000000.ci.test"),
    ("a-b-c", "ffffff", "ci.test", "a-b-ffffff.ci.test"),
    ("abc-def", "123456", "x.y.z", "abc-123456.x.y.z"),
    ("ab", "a1b2c3", "ci.test", "ab-a1b2c3.ci.test"),
    ("a", "a1b2c3", "ci.test", "a-a1b2c3.ci.test"),
    ("keycloak", "9f9f9f", "ci.example.org", "keyc-9f9f9f.ci.example.org"),
])
def test_cold_domains_from_the_table(recipe, run, base, domain):
    assert cold_domain(RecipeName(recipe), RunId(run), Domain(base)).value == domain


@given(recipes, hexes, domains)
def test_cold_domain_is_a_short_recipe_head_then_the_run_id(recipe, run, base):
    domain = cold_domain(RecipeName(recipe), RunId(run), Domain(base)).value
    assert domain.endswith(f"-{run}.{base}")
    head = domain[: -len(f"-{run}.{base}")]
    assert 1 <= len(head) <= 4 and recipe.startswith(head) and not head.endswith("-")
    assert Domain.parse(domain).value == domain


@given(recipes, domains)
def test_warm_domain_is_stable(recipe, base):
    assert warm_domain(RecipeName(recipe), Domain(base)).value == f"warm-{recipe}.{base}"


@pytest.mark.parametrize(("domain", "stack"), [
    ("ci.test", "ci_test"),
    ("cust-abc123.ci.test", "cust-abc123_ci_test"),
    ("warm-keycloak.ci.example.org", "warm-keycloak_ci_example_org"),
    ("a" * 40 + ".example.org", "a" * 40 + "_exam"),  # abra cuts at 45 characters
])
def test_stack_names_from_the_table(domain, stack):
    assert stack_name(Domain(domain)) == stack


@given(domains)
def test_stack_names_have_no_dots_and_abras_length(domain):
    name = stack_name(Domain(domain))
    assert "." not in name and len(name) == min(len(domain), STACK_NAME_MAX)
    # read back, it is the start of the domain: only the dots changed
    assert all(n == d or (n, d) == ("_", ".") for n, d in zip(name, domain))


def test_run_ids_are_six_hex_and_distinct():
    ids = {RunId.new().value for _ in range(200)}
    assert all(re.fullmatch(r"[0-9a-f]{6}", i) for i in ids)
    assert len(ids) > 190


@given(st.permutations(list(Stage)), st.integers(min_value=1, max_value=5))
def test_stage_lists_come_back_in_canonical_order(stages, count):
    chosen = stages[:count]
    parsed = parse_stages(",".join(s.value for s in chosen))
    assert parsed == tuple(s for s in Stage if s in chosen)


@pytest.mark.parametrize("value", ["", "install,", "deploy", "install,install", "INSTALL", "install;custom"])
def test_bad_stage_lists_are_refused(value):
    with pytest.raises(BadInput, match="bad stage list"):
        parse_stages(value)
