"""Moves between releases: a major bump on either side of `+` is never taken for minor.

The expected moves are written by hand: a table of examples, and generated
pairs built by a named step on each side (the generator knows which part it
bumped, so the expectation never comes from the code under test).
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.pure.versions import Move, Release, classify, upstream_numbers

N, M, U, X = Move.NONE, Move.MINOR, Move.MAJOR, Move.UNPARSEABLE

# (running, latest, move): hand-written, each row a case someone could get wrong.
TABLE = [
    ("5.1.1+v3.6.15", "5.1.2+v3.6.16", M),
    ("5.1.1+v3.6.15", "5.2.0+v4.0.0", U),
    ("10.7.1+26.6.2", "10.7.10+26.6.2", M),
    ("10.7.1+26.6.2", "11.0.0+27.0.0", U),
    ("10.7.1+25.0.6", "10.8.0+26.0.0", U),  # keycloak 25 -> 26 under a recipe minor
    ("2.0.0+27.0.1-fpm", "2.0.1+27.0.2-fpm", M),
    ("1.11.0+1.29.0", "1.12.0+1.29.1", M),
    ("1.0.0+1.2.3", "1.0.0+1.2.3", N),
    ("1.0.0+1.2", "1.0.0+1.2.0", N),  # the same version spelled two ways
    ("1.0.1+1.2.3", "1.0.0+1.2.3", N),
    # the upstream compares numerically, not as text
    ("1.0.0+9", "1.0.0+10", U),  # newer (not older, as text would have it), and a major
    ("1.0.0+2.9", "1.0.0+2.10", M),
    ("1.0.0+10", "1.0.0+9", N),
    ("1.0.0+1.9.0", "1.0.0+1.10.0", M),
    ("1.0.0+1.10.0", "1.0.0+1.9.0", N),
    # a pre-release is older than its release, and never moved onto by itself
    ("1.0.0+1.2.3", "1.0.0+1.2.3-rc1", N),
    ("1.0.0+1.2.3-rc1", "1.0.0+1.2.3", M),
    ("1.0.0+1.2.3-rc1", "1.0.0+1.2.3-rc2", M),
    ("1.0.0+1.2.3-beta", "1.0.0+1.2.3-rc.1", M),
    ("1.0.0+1.2.3", "1.0.1+1.2.4-rc1", X),
    ("1.0.0+1.2.3", "1.1.0+2.0.0-beta2", X),
    # the recipe moves forward but the upstream moves back: a human decides
    ("1.0.0+1.2.3", "1.0.1+1.2.2", X),
    # below 1.0.0 the minor is the breaking part, on either side
    ("0.3.1+1.0.0", "0.4.0+1.0.0", U),
    ("0.3.1+1.0.0", "0.3.2+1.0.0", M),
    ("1.0.0+0.8.1", "1.0.1+0.9.0", U),
    ("1.0.0+0.8.1", "1.0.1+0.8.2", M),
    # what cannot be ordered or compared is held
    ("1.0.0+27.0.1-fpm", "1.0.0+27.0.1-apache", X),
    ("1.0.0+latest", "1.0.0+stable", X),
    ("1.0.0+stable", "1.0.0+latest", X),
    ("1.0.0+latest", "1.0.1+latest", X),
    ("1.0.0+01.2", "1.0.1+01.3", X),
    ("a1b2c3d4", "1.0.0+1.2.3", X),
    ("1.0.0+1.2.3", "latest", X),
    ("1.0.0", "1.0.1+1.2.3", X),
    ("v1.0.0+1.2.3", "1.0.1+1.2.3", X),
    ("1.0.0+1.2.3", "1.0.0+", X),
]


@pytest.mark.parametrize(("current", "latest", "move"), TABLE)
def test_moves_from_the_table(current, latest, move):
    assert classify(current, latest).move is move


# -- generated pairs, the expected move known by construction -------------------------

small = st.integers(min_value=0, max_value=40)
positive = st.integers(min_value=1, max_value=40)
prefixes = st.sampled_from(["", "v"])
labels = st.sampled_from(["", "-fpm", "-alpine", "_1"])
STEPS = ["same", "patch", "minor", "major"]


def step(numbers: tuple[int, int, int], kind: str, by: int) -> tuple[int, int, int]:
    major, minor, patch = numbers
    return {"same": numbers, "patch": (major, minor, patch + by), "minor": (major, minor + by, 0),
            "major": (major + by, 0, 0)}[kind]


def tag(semver, prefix, numbers, label) -> str:
    return f"{'.'.join(map(str, semver))}+{prefix}{'.'.join(map(str, numbers))}{label}"


# With both majors at least 1: a major step on either side is MAJOR, any other
# step MINOR, no step at all NONE.
EXPECTED = {
    (r, u): N if r == u == "same" else U if "major" in (r, u) else M
    for r in STEPS for u in STEPS
}


@given(st.tuples(positive, small, small), st.tuples(positive, small, small), prefixes, labels,
       st.sampled_from(STEPS), st.sampled_from(STEPS), positive)
def test_a_step_on_each_side_gives_the_move_of_the_table(semver, upstream, prefix, label, r, u, by):
    current = tag(semver, prefix, upstream, label)
    latest = tag(step(semver, r, by), prefix, step(upstream, u, by), label)
    assert classify(current, latest).move is EXPECTED[r, u]
    # and back down is never a move
    if (r, u) != ("same", "same") and u in ("same",):
        assert classify(latest, current).move is N


@given(st.tuples(small, small, small), st.tuples(small, small, small), prefixes, labels, positive)
def test_below_one_the_minor_step_breaks(semver, upstream, prefix, label, by):
    zero_recipe = (0, semver[1], semver[2])
    one_upstream = (max(upstream[0], 1), upstream[1], upstream[2])
    current = tag(zero_recipe, prefix, one_upstream, label)
    assert classify(current, tag(step(zero_recipe, "minor", by), prefix, one_upstream, label)).move is U
    assert classify(current, tag(step(zero_recipe, "patch", by), prefix, one_upstream, label)).move is M
    zero_upstream = (0, upstream[1], upstream[2])
    recipe = (max(semver[0], 1), semver[1], semver[2])
    current = tag(recipe, prefix, zero_upstream, label)
    assert classify(current, tag(step(recipe, "patch", by), prefix, step(zero_upstream, "minor", by), label)).move is U
    assert classify(current, tag(step(recipe, "patch", by), prefix, step(zero_upstream, "patch", by), label)).move is M


@given(st.tuples(positive, small, small), st.lists(small, min_size=1, max_size=3).map(tuple), prefixes, labels)
def test_upstream_numbers_read_back(semver, numbers, prefix, label):
    release = Release.parse(tag(semver, prefix, numbers, label))
    assert release is not None
    assert upstream_numbers(release.upstream) == numbers


@given(st.tuples(small, small, small), st.tuples(small, small, small),
       st.sampled_from(["latest", "alpine", "stable-slim", "01.2", "x1.2"]), positive)
def test_an_upstream_that_is_not_a_version_is_always_held(semver, other, word, by):
    for later in (step(semver, "patch", by), step(semver, "minor", by), step(semver, "major", by)):
        dotted = ".".join(map(str, semver)), ".".join(map(str, later))
        assert classify(f"{dotted[0]}+{word}", f"{dotted[1]}+{word}").move in (X, U)
        assert classify(f"{dotted[0]}+1.2.3", f"{dotted[1]}+{word}").move in (X, U)
    assert classify(tag(semver, "", other, ""), f"{'.'.join(map(str, semver))}+{word}").move is X


@given(st.tuples(positive, small, small), st.tuples(positive, small, small), prefixes,
       st.sampled_from(["-rc1", "-rc.2", "-beta", "-alpha3", "_rc1", "-dev", "-RC2"]), positive)
def test_a_pre_release_upstream_is_older_than_its_release_and_never_moved_onto(semver, upstream, prefix, pre, by):
    release = tag(semver, prefix, upstream, "")
    candidate = tag(semver, prefix, upstream, pre)
    assert Release.parse(candidate) < Release.parse(release)
    assert classify(release, candidate).move is N
    assert classify(candidate, release).move is M
    for r in ("patch", "minor"):
        newer_pre = tag(step(semver, r, by), prefix, step(upstream, "patch", by), pre)
        assert classify(release, newer_pre).move is X


@given(st.text(max_size=30), st.text(max_size=30))
def test_classify_never_raises(a, b):
    assert classify(a, b).move in Move
