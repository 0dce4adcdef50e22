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


# -- the order (docs/reconcile.md, "How versions order") -----------------------------

# Oldest first, written by hand: every neighbour is strictly older than the next.
CHAIN = [
    "1.0.0+latest",  # an upstream that is not a version sorts before every version
    "1.0.0+1.2.3-dev",
    "1.0.0+1.2.3-alpha",
    "1.0.0+1.2.3-alpha.2",
    "1.0.0+1.2.3-beta1",
    "1.0.0+1.2.3-rc1",
    "1.0.0+1.2.3-rc2",
    "1.0.0+1.2.3-rc10",
    "1.0.0+1.2.3",
    "1.0.0+1.2.4",
    "1.0.0+1.9.0",
    "1.0.0+1.10.0",
    "1.0.0+9",
    "1.0.0+10",
    "1.0.0+v11.0.1",
    "1.0.1+0.1",
    "1.0.10+0.1",
    "1.2.0+0.0.1",
    "2.0.0+1-fpm",
]


def test_the_hand_written_chain_is_the_order():
    parsed = [Release.parse(tag) for tag in CHAIN]
    assert all(release is not None for release in parsed)
    assert [r.tag for r in releases(reversed(CHAIN))] == CHAIN
    for older, newer in zip(parsed, parsed[1:]):
        assert older < newer and not newer < older and older != newer


@given(st.permutations(CHAIN))
def test_any_shuffle_of_the_chain_sorts_back(shuffled):
    assert [r.tag for r in releases(shuffled)] == CHAIN


def test_spellings_of_one_version_are_equal_in_order_but_kept_apart():
    a, b = Release.parse("1.0.0+1.2"), Release.parse("1.0.0+1.2.0")
    assert a.same_version(b) and a != b and (a < b) != (b < a)


pre_suffixes = st.sampled_from(["", "", "-rc1", "-rc.2", "-beta", "-alpha3", "-dev", "-fpm", "-alpine", "_1"])
version_tags = st.one_of(
    st.builds(lambda s, v, n, x: f"{s[0]}.{s[1]}.{s[2]}+{v}{'.'.join(map(str, n))}{x}",
              st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), st.sampled_from(["", "v"]),
              st.lists(st.integers(0, 12), min_size=1, max_size=3), pre_suffixes),
    tags,
)


@given(version_tags, version_tags, version_tags)
def test_the_order_is_total(a, b, c):
    ra, rb, rc = Release.parse(a), Release.parse(b), Release.parse(c)
    assert ra is not None and rb is not None and rc is not None
    # exactly one of <, ==, > (trichotomy), consistent with sorting
    assert [ra < rb, ra == rb, rb < ra].count(True) == 1
    assert (ra == rb) == (a == b)
    # transitivity
    if ra <= rb and rb <= rc:
        assert ra <= rc
    assert sorted([ra, rb, rc]) == sorted([rc, rb, ra])


@given(st.tuples(nums, nums, nums), st.lists(st.integers(0, 99), min_size=1, max_size=4), st.data())
def test_the_upstream_compares_as_numbers(semver, numbers, data):
    at = data.draw(st.integers(0, len(numbers) - 1))
    bigger = [*numbers[:at], numbers[at] + data.draw(st.integers(1, 200)),
              *data.draw(st.lists(st.integers(0, 99), min_size=len(numbers) - at - 1,
                                  max_size=len(numbers) - at - 1))]
    base = ".".join(map(str, semver))
    older = Release.parse(f"{base}+{'.'.join(map(str, numbers))}")
    newer = Release.parse(f"{base}+{'.'.join(map(str, bigger))}")
    assert older < newer
