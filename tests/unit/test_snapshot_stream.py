"""The stream under take, restore and verify: read once into a fixed pool of buffers,
hashed and checked, then copied on (property tests, no Docker).

Whatever the chunk size and however the source delivers its bytes (a pipe
written in odd pieces), the copy is byte for byte the stream, the hash and
size are the stream's, and the member count is the scanner's; a refused
member or a sink that fails stops the stream with the error and never hangs.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tarfile
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.capabilities.snapshot import HostileArchive, _fill, _read_from_disk, _Sink, _Tee
from tests.unit.test_tar_scanner import build, segment

regular = st.lists(st.tuples(st.lists(segment, min_size=1, max_size=4).map("/".join), st.binary(max_size=5000)),
                   min_size=1, max_size=8)


def gnu_archive(entries) -> bytes:
    return build([(name, tarfile.REGTYPE, "", data) for name, data in entries], tarfile.GNU_FORMAT)


def through_a_pipe(payload: bytes, pieces: list[int]):
    """A pipe's read end, fed `payload` in pieces of the given sizes by a thread."""
    read_end, write_end = os.pipe()

    def feed() -> None:
        at, i = 0, 0
        try:
            while at < len(payload):
                size = pieces[i % len(pieces)]
                os.write(write_end, payload[at:at + size])
                at, i = at + size, i + 1
        except BrokenPipeError:
            pass
        finally:
            os.close(write_end)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    return read_end, writer


class Collect:
    def __init__(self, fail_after: int | None = None):
        self.data = bytearray()
        self.fail_after = fail_after

    def write(self, view: memoryview) -> None:
        if self.fail_after is not None and len(self.data) >= self.fail_after:
            raise OSError(28, "No space left on device")
        self.data += view


@settings(max_examples=80, deadline=None)
@given(regular, st.integers(min_value=512, max_value=9000), st.lists(st.integers(1, 7000), min_size=1, max_size=5))
def test_the_copy_hash_and_size_are_the_stream_s_whatever_the_chunks(entries, chunk, pieces):
    payload = gnu_archive(entries)
    source, writer = through_a_pipe(payload, pieces)
    sink = Collect()
    try:
        tee = _Tee(source, sink, chunk=chunk)  # type: ignore[arg-type]
        members = tee.pump()
    finally:
        os.close(source)
        writer.join()
    assert bytes(sink.data) == payload
    assert (tee.size, tee.hash.hexdigest()) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert members == len(entries)


@settings(max_examples=40, deadline=None)
@given(regular, st.integers(min_value=512, max_value=4096), st.integers(min_value=0, max_value=3))
def test_a_refused_member_stops_the_stream_before_its_chunk_is_copied(entries, chunk, at):
    hostile = list(entries)
    hostile.insert(min(at, len(hostile)), ("../escape", b"x"))
    payload = gnu_archive(hostile)
    source, writer = through_a_pipe(payload, [chunk])
    sink = Collect()
    try:
        with pytest.raises(HostileArchive):
            _Tee(source, sink, chunk=chunk).pump()  # type: ignore[arg-type]
    finally:
        os.close(source)
        writer.join()
    # Only chunks that passed the check were copied on: never the one that completes the refused header.
    header = payload.index(b"../escape\0")
    assert len(sink.data) < header + 512 and payload.startswith(bytes(sink.data))


@settings(max_examples=40, deadline=None)
@given(regular, st.integers(min_value=512, max_value=4096), st.integers(min_value=0, max_value=20000))
def test_a_failing_sink_ends_the_stream_with_its_error(entries, chunk, fail_after):
    payload = gnu_archive(entries) + bytes(30000)  # long enough to reach the failure
    source, writer = through_a_pipe(payload, [chunk])
    sink = Collect(fail_after=fail_after)
    try:
        with pytest.raises(OSError, match="No space left"):
            _Tee(source, sink, chunk=chunk).pump()  # type: ignore[arg-type]
    finally:
        os.close(source)
        writer.join()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=30), st.integers(4096, 20000))
def test_a_file_sink_writes_every_byte_in_order_while_it_flushes_behind(tmp_path_factory, pieces, stretch):
    path = tmp_path_factory.mktemp("sink") / "out.tar"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        sink = _Sink(fd, flush_behind=True)
        sink.STRETCH = stretch
        for piece in pieces:
            sink.write(memoryview(piece))
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(pieces)
    assert sink.written == len(b"".join(pieces))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=300_000), st.integers(min_value=100, max_value=70_000))
def test_a_snapshot_file_read_from_disk_gives_every_byte_whatever_its_alignment(tmp_path_factory, size, chunk):
    """Direct reads need aligned offsets and lengths; an odd chunk or file size falls back, never fails."""
    payload = os.urandom(size)
    path = tmp_path_factory.mktemp("disk") / "volume.tar"
    path.write_bytes(payload)
    got = bytearray()
    with _read_from_disk(path) as fd:
        buffer = mmap.mmap(-1, chunk)
        while n := _fill(fd, buffer):
            got += buffer[:n]
    assert bytes(got) == payload
