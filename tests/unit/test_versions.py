"""Release tags `<recipe-semver>+<upstream>`: parse, order, pick the upgrade start."""

from hypothesis import given
from hypothesis import strategies as st

from ccci.pure.versions import Release, previous, releases

nums = st.integers(min_value=0, max_value=999)
upstreams = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)
tags = st.builds(lambda a, b, c, u: f"{a}.{b}.{c}+{u}", nums, nums, nums, upstreams)


@given(tags)
def test_release_tags_parse_back_to_themselves(tag):
    release = Release.parse(tag)
    assert release is not None and release.tag == tag and str(release) == tag


@given(st.lists(tags, min_size=1, max_size=12, unique=True))
def test_releases_order_by_recipe_semver_first(all_tags):
    ordered = releases(all_tags)
    assert [r.semver for r in ordered] == sorted(r.semver for r in ordered)


def test_upstream_forms_seen_in_the_wild():
    for tag in ["1.11.0+1.29.0", "5.1.1+v3.6.15", "2.0.0+27.0.1-fpm", "10.7.1+26.6.2"]:
        assert Release.parse(tag) is not None


def test_non_release_tags_are_ignored():
    assert releases(["v1.0.0", "1.0", "latest", "1.0.0", "01.0.0+x", "1.0.0+"]) == []


@given(st.lists(tags, min_size=2, max_size=10, unique=True))
def test_previous_of_the_newest_is_the_one_before(all_tags):
    ordered = releases(all_tags)
    newest = ordered[-1]
    start = previous(ordered, newest)
    assert start is None or (start < newest and all(not (start < r < newest) for r in ordered))


@given(st.lists(tags, min_size=1, max_size=10, unique=True))
def test_a_non_release_target_upgrades_from_the_newest_release(all_tags):
    ordered = releases(all_tags)
    assert previous(ordered, None) == ordered[-1]


def test_only_release_has_nothing_to_upgrade_from():
    only = releases(["1.0.0+1.35.0"])
    assert previous(only, only[0]) is None
