"""Snapshots: the one last-known-good copy of an app's volumes.

Invariants:
- A snapshot is only taken or restored while no task or container of the
  app's stack exists (the app is undeployed); otherwise `AppRunning`.
- One raw tar per volume plus `meta.json` (recipe, version, commit, and each
  volume's size and sha256), in a generation folder `gen-*`. `current` is a
  symlink to the known-good generation and is replaced by rename(2), the only
  atomic step: a new generation is written beside it on the same filesystem,
  fsynced, read back and verified before the swap. A crash, a SIGKILL or a
  full disk at any point leaves `current` pointing at the previous, intact
  generation; leftovers of an unfinished take are removed by the next take.
- Restore checks every checksum and every member before the volume is
  touched: each tar is streamed once (hashed, its members checked, and fed
  to `tar -x` into a staging folder beside the volume), and only when all of
  them verified are the staging folders swapped in. The volume then holds
  exactly the snapshot's content (extra files gone), owners, modes and links
  kept.
- Refused members (in take and restore): absolute paths, `..`, links whose
  target is absolute or leaves the volume, device nodes and FIFOs. The check
  runs beside the extraction, so `tar -x` may already have written a refused
  member into the staging folder when the refusal comes; the staging folder
  is then deleted and the volume was never touched. GNU tar's own defences
  (no `..`, leading `/` stripped from names and link targets, unsafe links
  made as placeholders) keep even that moment inside the staging folder.
- Streams: memory stays flat whatever the volume size (1 MiB buffers).
This module knows nothing of runs, canonicals or reconcilers.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import posixpath
import queue
import secrets
import shutil
import tarfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import json

import attrs
import cattrs
import docker
import docker.errors

from ccci.seams import proc
from ccci.seams.engine import NAMESPACE, Stack

log = logging.getLogger("ccci")

CHUNK = 1 << 20
CURRENT = "current"
META = "meta.json"


class SnapshotError(Exception):
    """Base: a snapshot could not be taken, verified or restored."""


class AppRunning(SnapshotError):
    """The app still has tasks or containers; snapshots need it undeployed."""


class NoSnapshot(SnapshotError):
    """There is no known-good snapshot yet."""


class Corrupt(SnapshotError):
    """The snapshot does not match its own checksums (or is unreadable)."""


class HostileArchive(SnapshotError):
    """A tar member would escape the volume or create a device."""


@attrs.frozen
class VolumeEntry:
    name: str
    file: str
    size: int
    sha256: str


@attrs.frozen
class SnapshotMeta:
    recipe: str
    version: str
    commit: str
    taken: str
    volumes: tuple[VolumeEntry, ...]

    def volume_names(self) -> list[str]:
        return [v.name for v in self.volumes]


_converter = cattrs.Converter(forbid_extra_keys=True)


def _meta_from(path: Path) -> SnapshotMeta:
    try:
        return _converter.structure(json.loads(path.read_text()), SnapshotMeta)
    except (OSError, ValueError, cattrs.BaseValidationError) as error:
        raise Corrupt(f"{path}: unreadable meta ({error})") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_member(member: tarfile.TarInfo) -> None:
    """Refuse what could escape the volume root or create a device."""
    name = member.name
    if name.startswith("/") or os.path.isabs(name):
        raise HostileArchive(f"absolute path in archive: {name!r}")
    parts = posixpath.normpath(name).split("/")
    if ".." in parts or ".." in name.split("/"):
        raise HostileArchive(f"path leaves the volume: {name!r}")
    if member.isdev() or member.isfifo():
        raise HostileArchive(f"device or fifo in archive: {name!r}")
    if member.issym() or member.islnk():
        target = member.linkname
        if target.startswith("/"):
            raise HostileArchive(f"link to an absolute path: {name!r} -> {target!r}")
        base = posixpath.dirname(posixpath.normpath(name)) if member.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if resolved == ".." or resolved.startswith("../"):
            raise HostileArchive(f"link leaves the volume: {name!r} -> {target!r}")


class TarScanner:
    """Checks the members of a tar stream as its bytes go by, in one pass.

    Fed chunks in order; parses each 512-byte header (ustar, GNU long names
    and links, pax path/linkpath), checks the member with `check_member`, and
    skips its data without copying it. Much cheaper per member than
    `tarfile`'s stream mode, which also keeps every member in a list.
    """

    _CAPTURED = {ord("L"), ord("K"), ord("x"), ord("g")}
    _MAX_CAPTURE = 1 << 20

    def __init__(self) -> None:
        self.header = bytearray()
        self.skip = 0  # data bytes (with padding) of the current member still to pass
        self.capture: bytearray | None = None
        self.capture_left = 0
        self.capture_kind = 0
        self.capture_padding = 0
        self.overrides: dict[str, str] = {}
        self.zero_blocks = 0
        self.members = 0

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        pos, end = 0, len(chunk)
        while pos < end:
            if self.zero_blocks >= 2:
                return  # past the end of the archive: only padding follows
            if self.capture is not None:
                take = min(self.capture_left, end - pos)
                self.capture += view[pos:pos + take]
                self.capture_left -= take
                pos += take
                if self.capture_left == 0:
                    self._captured()
                continue
            if self.skip:
                take = min(self.skip, end - pos)
                self.skip -= take
                pos += take
                continue
            take = min(512 - len(self.header), end - pos)
            self.header += view[pos:pos + take]
            pos += take
            if len(self.header) == 512:
                block = bytes(self.header)
                self.header.clear()
                self._on_header(block)

    def finish(self) -> int:
        if self.skip or self.header or self.capture is not None:
            raise Corrupt("the tar stream ends in the middle of a member")
        if self.members == 0:
            raise Corrupt("the tar stream holds no member")
        return self.members

    def _on_header(self, block: bytes) -> None:
        if block == _ZERO_BLOCK:
            self.zero_blocks += 1
            return
        self.zero_blocks = 0
        try:
            checksum = int(block[148:156].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            raise Corrupt("not a tar header (bad checksum field)") from None
        if checksum != sum(block[:148]) + 256 + sum(block[156:]):
            raise Corrupt("not a tar header (checksum mismatch)")
        size = _number(block[124:136])
        kind = block[156]
        padded = (size + 511) // 512 * 512
        if kind in self._CAPTURED:
            if size > self._MAX_CAPTURE:
                raise Corrupt("an oversized extended header")
            self.capture, self.capture_left, self.capture_kind = bytearray(), size, kind
            self.capture_padding = padded - size
            if size == 0:
                self._captured()
            return
        name = _text(block[0:100])
        if block[257:263] == b"ustar\0" and block[345]:
            name = f"{_text(block[345:500])}/{name}"
        linkname = _text(block[157:257])
        name = self.overrides.pop("path", name)
        linkname = self.overrides.pop("linkpath", linkname)
        self.overrides.clear()
        info = tarfile.TarInfo(name)
        info.type = bytes([kind]) if kind else tarfile.REGTYPE
        info.linkname = linkname
        check_member(info)
        self.members += 1
        self.skip = 0 if info.type in _NO_DATA else padded

    def _captured(self) -> None:
        data = bytes(self.capture or b"")
        kind = self.capture_kind
        self.capture = None
        self.skip = self.capture_padding
        if kind == ord("L"):
            self.overrides["path"] = _text(data)
        elif kind == ord("K"):
            self.overrides["linkpath"] = _text(data)
        elif kind == ord("x"):
            for key, value in _pax_records(data):
                if key in ("path", "linkpath"):
                    self.overrides[key] = value


_ZERO_BLOCK = bytes(512)
_NO_DATA = {
    tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE,
}


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    if field[0] & 0x80:  # base-256, for sizes beyond 8 GiB
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    try:
        return int(field.split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        raise Corrupt("not a tar header (bad size field)") from None


def _pax_records(data: bytes) -> list[tuple[str, str]]:
    records, pos = [], 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise Corrupt("a malformed pax header") from None
        if length <= 0:
            raise Corrupt("a malformed pax header")
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        records.append((key.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")))
        pos += length
    return records


class _Tee:
    """Reads a tar stream once: hashes it, copies it on, and checks its members.

    Three steps run side by side on each 1 MiB chunk: this thread reads, one
    worker hashes and checks members, another writes the copy (hashing and
    I/O release the GIL). Queues are bounded, so memory stays flat.
    """

    DEPTH = 8

    def __init__(self, source: BinaryIO, sink: BinaryIO | None):
        self.source = source
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0
        self.scanner = TarScanner()

    def pump(self) -> int:
        """Move the whole stream; the member count, or Corrupt/HostileArchive."""
        failures: list[BaseException] = []

        def worker(work: queue.Queue, step) -> None:
            while (data := work.get()) is not None:
                if failures:
                    continue  # drain, so the reader never blocks on a dead worker
                try:
                    step(data)
                except BaseException as error:  # handed to the reading thread
                    failures.append(error)

        def check(data: bytes) -> None:
            self.hash.update(data)
            self.scanner.feed(data)

        lanes = [(queue.Queue(self.DEPTH), check)]
        if self.sink is not None:
            lanes.append((queue.Queue(self.DEPTH), self.sink.write))
        threads = [threading.Thread(target=worker, args=lane, daemon=True) for lane in lanes]
        for thread in threads:
            thread.start()
        try:
            read = self.source.read
            while not failures and (data := read(CHUNK)):
                self.size += len(data)
                for work, _ in lanes:
                    work.put(data)
        finally:
            for work, _ in lanes:
                work.put(None)
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]
        return self.scanner.finish()


def sha256_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


@attrs.define
class AppVolumes:
    """The named volumes of one stack, and whether the stack is running."""

    stack: Stack

    def names(self) -> list[str]:
        api = self.stack.client.api
        found = api.volumes(filters={"label": f"{NAMESPACE}={self.stack.name}"})["Volumes"] or []
        return sorted(v["Name"] for v in found)

    def inspect(self, name: str) -> dict:
        try:
            return self.stack.client.api.inspect_volume(name)
        except docker.errors.NotFound:
            raise SnapshotError(f"volume {name} does not exist") from None

    def mountpoint(self, name: str) -> Path:
        return Path(self.inspect(name)["Mountpoint"])

    def swappable(self, name: str) -> bool:
        """A plain local volume whose data folder ccci may replace by rename."""
        info = self.inspect(name)
        return (
            info.get("Driver") == "local"
            and not (info.get("Options") or {})
            and Path(info["Mountpoint"]).name == "_data"
        )

    def require_undeployed(self, action: str) -> None:
        left = self.stack.leftovers()
        busy = {k: v for k, v in left.items() if k in ("services", "containers")}
        if busy:
            raise AppRunning(
                f"cannot {action} {self.stack.name}: the app is deployed ({busy}); undeploy it first"
            )


@attrs.define
class Snapshots:
    """The snapshot folder of one app: `current` and its generations."""

    root: Path
    calls: proc.Calls | None = None

    def current(self) -> Path | None:
        link = self.root / CURRENT
        if not link.is_symlink():
            return None
        target = self.root / os.readlink(link)
        return target if target.is_dir() else None

    def meta(self) -> SnapshotMeta:
        gen = self.current()
        if gen is None:
            raise NoSnapshot(f"no snapshot under {self.root}")
        return _meta_from(gen / META)

    def verify(self) -> SnapshotMeta:
        """Recompute every checksum and check every member of the current snapshot."""
        meta = self.meta()
        gen = self.current()
        assert gen is not None
        for entry in meta.volumes:
            path = gen / entry.file
            try:
                with open(path, "rb", buffering=0) as source:
                    tee = _Tee(source, None)
                    tee.pump()
            except OSError as error:
                raise Corrupt(f"{path}: {error}") from None
            if (tee.size, tee.hash.hexdigest()) != (entry.size, entry.sha256):
                raise Corrupt(f"{entry.file}: checksum mismatch (snapshot corrupted)")
        return meta

    # -- take ----------------------------------------------------------------------

    def take(
        self, app: AppVolumes, *, recipe: str, version: str, commit: str
    ) -> SnapshotMeta:
        app.require_undeployed("snapshot")
        names = app.names()
        if not names:
            raise SnapshotError(f"stack {app.stack.name} has no volumes to snapshot")
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_unfinished()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        gen_name = f"gen-{stamp}-{secrets.token_hex(4)}"
        tmp = self.root / f".tmp-{gen_name}"
        tmp.mkdir()
        try:
            entries = tuple(self._take_volume(app, name, tmp) for name in names)
            meta = SnapshotMeta(recipe, version, commit, stamp, entries)
            meta_path = tmp / META
            with open(meta_path, "w") as handle:
                handle.write(json.dumps(_converter.unstructure(meta), indent=2, sort_keys=True))
                handle.flush()
                os.fsync(handle.fileno())
            _fsync_dir(tmp)
            for entry in entries:  # read back before it may become the known-good
                if sha256_file(tmp / entry.file) != (entry.size, entry.sha256):
                    raise Corrupt(f"{entry.file}: read-back differs from what was written")
            gen = self.root / gen_name
            os.rename(tmp, gen)
            self._point_current_at(gen_name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._remove_old_generations()
        log.info("snapshot of %s taken: %s", app.stack.name, ", ".join(
            f"{e.name} {e.size} B" for e in entries))
        return meta

    def _take_volume(self, app: AppVolumes, name: str, into: Path) -> VolumeEntry:
        mountpoint = app.mountpoint(name)
        file_name = f"{name}.tar"
        argv = ["tar", "--numeric-owner", "-C", str(mountpoint), "-cf", "-", "."]
        stop = threading.Event()
        ahead = threading.Thread(target=_read_ahead, args=(mountpoint, stop), daemon=True)
        with open(into / file_name, "wb") as out:
            ahead.start()
            try:
                with proc.streaming(argv, read=True, calls=self.calls) as tar:
                    assert tar.stdout is not None
                    tee = _Tee(tar.stdout, out)
                    tee.pump()
            finally:
                stop.set()
                ahead.join()
            out.flush()
            os.fsync(out.fileno())
        return VolumeEntry(name, file_name, tee.size, tee.hash.hexdigest())

    def _point_current_at(self, gen_name: str) -> None:
        link_tmp = self.root / f".{CURRENT}-{secrets.token_hex(4)}"
        os.symlink(gen_name, link_tmp)
        os.replace(link_tmp, self.root / CURRENT)
        _fsync_dir(self.root)

    def _remove_unfinished(self) -> None:
        for path in self.root.iterdir():
            if path.name.startswith((".tmp-gen-", f".{CURRENT}-")):
                if path.is_symlink() or path.is_file():
                    path.unlink(missing_ok=True)
                else:
                    shutil.rmtree(path, ignore_errors=True)

    def _remove_old_generations(self) -> None:
        keep = self.current()
        for path in self.root.glob("gen-*"):
            if keep is None or path.resolve() != keep.resolve():
                shutil.rmtree(path, ignore_errors=True)

    # -- restore -------------------------------------------------------------------

    def restore(self, app: AppVolumes) -> SnapshotMeta:
        """Make each volume's content exactly the snapshot's, or touch nothing."""
        app.require_undeployed("restore")
        meta = self.meta()
        gen = self.current()
        assert gen is not None
        present = set(app.names())
        missing = [v.name for v in meta.volumes if v.name not in present]
        if missing:
            raise SnapshotError(f"volumes missing on the engine: {missing}")
        swappable = {v.name: app.swappable(v.name) for v in meta.volumes}
        if not all(swappable.values()):
            # Not a plain local volume: verify everything first, then extract in place.
            self.verify()
        staged: dict[str, Path] = {}
        try:
            for entry in meta.volumes:
                mountpoint = app.mountpoint(entry.name)
                if swappable[entry.name]:
                    staging = mountpoint.parent / f".ccci-restore-{secrets.token_hex(4)}"
                    staging.mkdir()
                    staged[entry.name] = staging
                    self._extract(gen / entry.file, entry, staging)
            for entry in meta.volumes:
                mountpoint = app.mountpoint(entry.name)
                if entry.name in staged:
                    old = mountpoint.parent / f".ccci-old-{secrets.token_hex(4)}"
                    os.rename(mountpoint, old)
                    os.rename(staged.pop(entry.name), mountpoint)
                    _fsync_dir(mountpoint.parent)
                    # The volume is right from here on; its old data goes in the background.
                    proc.detach(["rm", "-rf", "--", str(old)])
                else:
                    _empty(mountpoint)
                    self._extract(gen / entry.file, entry, mountpoint)
        except BaseException:
            for staging in staged.values():
                shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("restored %s from snapshot %s (%s)", app.stack.name, meta.taken, meta.version)
        return meta

    def _extract(self, tar_path: Path, entry: VolumeEntry, into: Path) -> None:
        argv = ["tar", "--numeric-owner", "--same-owner", "-p", "-C", str(into), "-xf", "-"]
        with open(tar_path, "rb", buffering=0) as source:
            with proc.streaming(argv, feed=True, calls=self.calls) as tar:
                assert tar.stdin is not None
                tee = _Tee(source, tar.stdin)
                tee.pump()
                if (tee.size, tee.hash.hexdigest()) != (entry.size, entry.sha256):
                    raise Corrupt(f"{entry.file}: checksum mismatch (snapshot corrupted)")


def _read_ahead(root: Path, stop: threading.Event) -> None:
    """Ask the kernel to start reading every file tar is about to read.

    tar reads one file at a time; on a cold cache each small file costs a
    round trip to the disk. Walking the tree in the same (readdir) order and
    advising WILLNEED queues those reads in parallel, so tar finds most files
    already in memory. Advice only: nothing is read into this process.
    """
    folders = [str(root)]
    while folders and not stop.is_set():
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:
            continue
        for entry in entries:
            if stop.is_set():
                return
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                    finally:
                        os.close(fd)
            except OSError:
                continue


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def volumes_of(client: docker.DockerClient, stack_name: str) -> AppVolumes:
    return AppVolumes(Stack(client, stack_name))


def show(meta: SnapshotMeta) -> Mapping[str, object]:
    return _converter.unstructure(meta)
