"""Hostile archives against the member check and against a real GNU tar extraction.

No Docker: the volume is a folder. Each archive is refused, or it extracts
strictly inside the folder (nothing beside it changes, every link resolves
inside). The examples are archives the check once let through.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from ccci.capabilities.snapshot import Corrupt, HostileArchive, VolumeEntry, check_extracted, extract
from ccci.pure import tarcheck
from ccci.seams.proc import CommandError
from tests.fixtures.tar_archives import VICTIM, around, archives, escaped, gnu


def scan(payload: bytes) -> int:
    scanner = tarcheck.TarScanner()
    for i in range(0, len(payload), 777):
        scanner.feed(payload[i:i + 777])
    return scanner.finish()


def with_pax_global(records: dict[str, str], entries) -> bytes:
    """A pax global header, then GNU members: GNU tar applies the global keywords to each."""
    return tarfile.TarInfo.create_pax_global_header(records) + gnu(entries)


def with_pax_local(records: dict[str, str], name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.pax_headers = records
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data + bytes(-len(data) % 512) + bytes(1024)


def with_header_field(payload: bytes, offset: int, field: bytes) -> bytes:
    """The first header with one field replaced and its checksum made right again."""
    block = bytearray(payload[:512])
    block[offset:offset + len(field)] = field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + payload[512:]


BYPASSES = {
    # The member check once ignored global headers; GNU tar makes `x` -> /etc.
    "pax global linkpath": with_pax_global({"linkpath": "/etc"}, [("x", tarfile.SYMTYPE, "ok")]),
    "pax global path": with_pax_global({"path": "../escape"}, [("ok.txt", tarfile.REGTYPE, b"x")]),
    # `d/up` is the root, so `s` is the root's parent, though `d/up/..` reads as `d`.
    "chain of links": gnu([("d", tarfile.DIRTYPE, ""), ("d/up", tarfile.SYMTYPE, ".."),
                           ("s", tarfile.SYMTYPE, "d/up/..")]),
    # The link that makes `s` escape comes after it.
    "chain, link made later": gnu([("s", tarfile.SYMTYPE, "d/up/.."), ("d", tarfile.DIRTYPE, ""),
                                   ("d/up", tarfile.SYMTYPE, "..")]),
    # A hard link to a symlink copies the link: `../x` read at the root leaves it.
    "hard link to a symlink": gnu([("d", tarfile.DIRTYPE, ""), ("d/s", tarfile.SYMTYPE, "../x"),
                                   ("h", tarfile.LNKTYPE, "d/s")]),
    # A member written through a link made earlier in the same archive.
    "through a link": gnu([("l", tarfile.SYMTYPE, "."), ("l/f", tarfile.REGTYPE, b"x")]),
    # A pax size the check did not read: tar and the check would frame the data differently.
    "pax local size": with_pax_local({"size": "0"}, "f", b"\0" * 512),
    "pax sparse name": with_pax_local({"GNU.sparse.name": "../x", "GNU.sparse.major": "1"}, "f", b"y"),
    # Python reads `1_0` as octal 8; GNU tar refuses the header and skips ahead.
    "size with an underscore": with_header_field(gnu([("f", tarfile.REGTYPE, b"z" * 8)]), 124, b"0000000001_0"),
    "size in base-64": with_header_field(gnu([("f", tarfile.REGTYPE, b"z" * 8)]), 124, b"+0000000010\0"),
    "a symlink that carries data": with_header_field(gnu([("s", tarfile.SYMTYPE, "t")]), 124, b"00000001000\0"),
}


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_archives_the_check_once_let_through_are_refused(name):
    with pytest.raises(tarcheck.ArchiveError):
        scan(BYPASSES[name])


def test_a_snapshot_of_ordinary_links_passes():
    payload = gnu([
        (".", tarfile.DIRTYPE, ""), ("a", tarfile.DIRTYPE, ""), ("a/b", tarfile.DIRTYPE, ""),
        ("a/b/f", tarfile.REGTYPE, b"data"), ("a/up", tarfile.SYMTYPE, "../a/b/f"),
        ("a/b/deep", tarfile.SYMTYPE, "../../a/up"), ("h", tarfile.LNKTYPE, "a/b/f"),
        ("loopless", tarfile.SYMTYPE, "a/b/deep"), ("dangling", tarfile.SYMTYPE, "nowhere/x"),
        ("n" * 150, tarfile.REGTYPE, b"long name"), ("ln", tarfile.SYMTYPE, "t" * 150),
    ])
    assert scan(payload) == 11


def test_a_loop_of_links_is_refused():
    with pytest.raises(tarcheck.Hostile, match="chain of more than"):
        scan(gnu([("a", tarfile.SYMTYPE, "b"), ("b", tarfile.SYMTYPE, "a")]))


def test_control_characters_in_names_are_kept_and_never_printed_raw():
    name = "bad\n\x1b[31mname"
    assert scan(gnu([(name, tarfile.REGTYPE, b"x")])) == 1
    with pytest.raises(tarcheck.Hostile) as refused:
        scan(gnu([(name, tarfile.SYMTYPE, "/etc")]))
    assert "\n" not in str(refused.value) and "\x1b" not in str(refused.value)


# -- against a real extraction -----------------------------------------------------


@pytest.fixture
def box(tmp_path):
    """A folder holding the volume `vol` and a folder `outside` beside it."""
    box = tmp_path / "box"
    (box / "outside").mkdir(parents=True)
    (box / "outside" / VICTIM).write_text("untouched\n")
    return box


def extract_bytes(payload: bytes, box: Path) -> Path:
    volume = box / "vol"
    if volume.exists():
        subprocess.run(["rm", "-rf", "--", str(volume)], check=True)
    volume.mkdir()
    tar_path = box.parent / "snapshot.tar"
    tar_path.write_bytes(payload)
    entry = VolumeEntry("v", "v.tar", len(payload), hashlib.sha256(payload).hexdigest())
    try:
        extract(tar_path, entry, volume)
    except BaseException:  # as restore does: a refused staging folder is deleted
        subprocess.run(["rm", "-rf", "--", str(volume)], check=True)
        raise
    return volume


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_restore_refuses_what_the_check_once_let_through(name, box):
    before = around(box, box / "vol")
    with pytest.raises((HostileArchive, Corrupt)):
        extract_bytes(BYPASSES[name], box)
    assert escaped(box / "vol", box, before) == []


def settle(box: Path, payload: bytes) -> tuple[str, list[str]]:
    """Extract one generated archive; ('refused' or 'extracted', what escaped)."""
    before = around(box, box / "vol")
    try:
        volume = extract_bytes(payload, box)
    except (HostileArchive, Corrupt, CommandError):
        return "refused", escaped(box / "vol", box, before)
    return "extracted", escaped(volume, box, before)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=archives("/tmp/ccci-hostile-outside"))
def test_a_generated_archive_is_refused_or_extracts_strictly_inside(box, data):
    verdict, problems = settle(box, data)
    assert problems == [], (verdict, problems)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=archives("/tmp/ccci-hostile-outside"))
def test_the_tree_check_alone_catches_every_escaping_link(box, data):
    """Second line of defence: plain GNU tar (no member check), then the tree check."""
    volume = box / "vol"
    subprocess.run(["rm", "-rf", "--", str(volume)], check=True)
    volume.mkdir()
    subprocess.run(["tar", "--numeric-owner", "-p", "-C", str(volume), "-xf", "-"], input=data,
                   capture_output=True)
    try:
        check_extracted(volume)
    except tarcheck.Hostile:
        return
    real = os.path.realpath(volume)
    for dirpath, dirnames, filenames in os.walk(volume):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                assert os.path.realpath(path).startswith(real + os.sep) or os.path.realpath(path) == real, path


def test_setuid_and_setgid_bits_are_kept(box):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, mode in (("suid", 0o4755), ("sgid-dir", 0o2775)):
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.type = tarfile.DIRTYPE if name.endswith("dir") else tarfile.REGTYPE
            archive.addfile(info, io.BytesIO(b"") if info.isreg() else None)
    volume = extract_bytes(buffer.getvalue(), box)
    assert (volume / "suid").stat().st_mode & 0o7777 == 0o4755
    assert (volume / "sgid-dir").stat().st_mode & 0o7777 == 0o2775


def test_the_fuzz_budget_at_a_small_size_finds_no_crash_and_no_escape():
    """bench/fuzz_tar.py, at a budget CI can pay every time (the full budget is 10,000)."""
    from bench.fuzz_tar import run

    result = run(200)
    assert result["inputs"] == 200
    assert (result["crashes"], result["escapes"]) == (0, 0), result["first problems"]
    assert result["refused by the check"] and result["extracted"]  # both sides were reached
