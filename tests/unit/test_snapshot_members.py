"""Which tar members a snapshot refuses (pure: TarInfo values, no I/O)."""

import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.pure.tarcheck import Hostile as HostileArchive, check_member


def member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    "info",
    [
        member("/etc/passwd"),
        member("../escape"),
        member("./a/../../escape"),
        member("a/../../b"),
        member("dev/sda", tarfile.BLKTYPE),
        member("dev/tty", tarfile.CHRTYPE),
        member("pipe", tarfile.FIFOTYPE),
        member("link", tarfile.SYMTYPE, "/etc/shadow"),
        member("a/link", tarfile.SYMTYPE, "../../outside"),
        member("hard", tarfile.LNKTYPE, "../x"),
        member("hard", tarfile.LNKTYPE, "/etc/passwd"),
    ],
)
def test_hostile_members_are_refused(info):
    with pytest.raises(HostileArchive):
        check_member(info)


@pytest.mark.parametrize(
    "info",
    [
        member("."),
        member("./"),
        member("./a/b.txt"),
        member("a/..hidden"),
        member("dir", tarfile.DIRTYPE),
        member("a/link", tarfile.SYMTYPE, "../b"),
        member("a/b/link", tarfile.SYMTYPE, "../../c"),
        member("./hard", tarfile.LNKTYPE, "./a/b.txt"),
    ],
)
def test_ordinary_members_pass(info):
    check_member(info)


segments = st.lists(st.sampled_from(["a", "b", "..", ".", "c.d"]), min_size=1, max_size=6).map("/".join)


@given(segments, segments)
def test_an_accepted_symlink_never_resolves_outside_the_root(name, target):
    import posixpath

    try:
        check_member(member(name, tarfile.SYMTYPE, target))
    except HostileArchive:
        return
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(posixpath.normpath(name)), target))
    assert not resolved.startswith("..") and not resolved.startswith("/")
    assert ".." not in posixpath.normpath(name).split("/")
