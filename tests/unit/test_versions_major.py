"""Moves between releases: a major bump on either side of `+` is never taken for minor.

Properties over generated `<recipe-semver>+<upstream>` pairs, upstream in the
forms recipes use (`1.29.0`, `v3.6.15`, `27.0.1-fpm`, `26.6.2`), plus the
unparseable ones, which must always come out as needing a human.
"""

from hypothesis import assume, given
from hypothesis import strategies as st

from ccci.pure.versions import Move, Release, breaking_part, classify, upstream_numbers

small = st.integers(min_value=0, max_value=40)
positive = st.integers(min_value=1, max_value=40)
semvers = st.tuples(small, small, small)
prefixes = st.sampled_from(["", "v"])
suffixes = st.sampled_from(["", "-fpm", "-alpine", "_1"])
upstream_nums = st.lists(small, min_size=1, max_size=3).map(tuple)


def tag(semver, prefix, numbers, suffix) -> str:
    return f"{'.'.join(map(str, semver))}+{prefix}{'.'.join(map(str, numbers))}{suffix}"


releases = st.builds(tag, semvers, prefixes, upstream_nums, suffixes)


@given(semvers, prefixes, upstream_nums, suffixes)
def test_upstream_numbers_read_back(semver, prefix, numbers, suffix):
    release = Release.parse(tag(semver, prefix, numbers, suffix))
    assert release is not None
    assert upstream_numbers(release.upstream) == numbers


@given(releases)
def test_the_same_release_is_no_move(version):
    assert classify(version, version).move is Move.NONE


@given(releases, releases)
def test_an_older_or_equal_target_is_no_move(a, b):
    ra, rb = Release.parse(a), Release.parse(b)
    assume(ra is not None and rb is not None and rb <= ra)
    assert classify(a, b).move is Move.NONE


@given(semvers, positive, prefixes, upstream_nums, suffixes)
def test_a_recipe_major_bump_is_major_whatever_the_upstream(semver, step, prefix, numbers, suffix):
    major, minor, patch = semver
    current = tag((major, minor, patch), prefix, numbers, suffix)
    bumped = (major + step, 0, 0)
    assert classify(current, tag(bumped, prefix, numbers, suffix)).move is Move.MAJOR


@given(semvers, st.tuples(small, small), prefixes, upstream_nums, positive, suffixes)
def test_an_upstream_major_change_is_major_even_under_a_recipe_patch(semver, minor_patch, prefix, numbers, step, suffix):
    major, minor, patch = semver
    current = tag(semver, prefix, numbers, suffix)
    newer = tag((major, minor, patch + 1), prefix, (numbers[0] + step, *numbers[1:]), suffix)
    assert classify(current, newer).move is Move.MAJOR


@given(positive, small, small, small, prefixes, upstream_nums, suffixes, st.data())
def test_patch_and_minor_moves_on_both_sides_are_minor(major, minor, patch, up_step, prefix, numbers, suffix, data):
    # A recipe major of at least 1 and an upstream major of at least 1: below
    # 1.0.0 the minor is breaking too (covered below).
    numbers = (max(numbers[0], 1), *numbers[1:])
    current = tag((major, minor, patch), prefix, numbers, suffix)
    recipe_next = data.draw(st.sampled_from([(major, minor, patch + 1), (major, minor + 1, 0)]))
    upstream_next = (numbers[0], *[n + up_step for n in numbers[1:]])
    assert classify(current, tag(recipe_next, prefix, upstream_next, suffix)).move is Move.MINOR


@given(small, small, positive, prefixes, upstream_nums, suffixes)
def test_below_one_a_minor_bump_is_breaking(minor, patch, step, prefix, numbers, suffix):
    numbers = (max(numbers[0], 1), *numbers[1:])
    current = tag((0, minor, patch), prefix, numbers, suffix)
    assert classify(current, tag((0, minor + step, 0), prefix, numbers, suffix)).move is Move.MAJOR
    assert classify(current, tag((0, minor, patch + step), prefix, numbers, suffix)).move is Move.MINOR


@given(releases, st.sampled_from(["latest", "abc1234", "1.2", "v1.0.0", "01.0.0+x", "", "1.0.0+", "a1b2c3d4+U"]))
def test_unparseable_on_either_side_needs_a_human(good, bad):
    assert classify(bad, good).move is Move.UNPARSEABLE
    assert classify(good, bad).move is Move.UNPARSEABLE


@given(semvers, semvers, st.sampled_from(["latest", "alpine", "stable-slim", "01.2"]))
def test_an_upstream_without_a_leading_number_is_always_held(a, b, word):
    assume(a < b)
    dotted = lambda s: ".".join(map(str, s))  # noqa: E731
    step = classify(f"{dotted(a)}+{word}", f"{dotted(b)}+{word}")
    # Held either way: as a recipe major bump, or because upstream cannot be compared.
    assert step.move in (Move.UNPARSEABLE, Move.MAJOR)
    if breaking_part(a) == breaking_part(b):
        assert step.move is Move.UNPARSEABLE


@given(releases, releases)
def test_major_is_exactly_a_change_of_a_breaking_part(a, b):
    step = classify(a, b)
    ra, rb = Release.parse(a), Release.parse(b)
    assert ra is not None and rb is not None
    if step.move is Move.MINOR:
        assert breaking_part(ra.semver) == breaking_part(rb.semver)
        ua, ub = upstream_numbers(ra.upstream), upstream_numbers(rb.upstream)
        assert ua is not None and ub is not None and breaking_part(ua) == breaking_part(ub)
        assert rb > ra


def test_forms_seen_in_the_wild():
    assert classify("5.1.1+v3.6.15", "5.1.2+v3.6.16").move is Move.MINOR
    assert classify("5.1.1+v3.6.15", "5.2.0+v4.0.0").move is Move.MAJOR
    assert classify("10.7.1+26.6.2", "10.7.10+26.6.2").move is Move.MINOR
    assert classify("10.7.1+26.6.2", "11.0.0+27.0.0").move is Move.MAJOR
    assert classify("10.7.1+25.0.6", "10.8.0+26.0.0").move is Move.MAJOR  # keycloak 25 -> 26
    assert classify("2.0.0+27.0.1-fpm", "2.0.1+27.0.2-fpm").move is Move.MINOR
    assert classify("1.11.0+1.29.0", "1.12.0+1.29.1").move is Move.MINOR
