"""Snapshots: the one last-known-good copy of an app's volumes.

Invariants:
- A snapshot is only taken or restored while no task or container of the
  app's stack exists (the app is undeployed); otherwise `AppRunning`.
- One raw tar per volume (GNU format) plus `meta.json` (recipe, version,
  commit, and each volume's size and sha256), in a generation folder `gen-*`.
  `current` is a symlink to the known-good generation and is replaced by
  rename(2), the only atomic step: a new generation is written beside it on
  the same filesystem, hashed and checked as it is written (the bytes
  hashed are the bytes written), and fsynced before the swap. A
  crash, a SIGKILL or a full disk at any point leaves `current` pointing at
  the previous, intact generation. A take that fails removes what it wrote
  (also a generation renamed into place but not made current), and every
  take starts by removing whatever is not `current` (what a killed take
  left); an error names the step and the path that failed (`TakeFailed`).
- Restore checks every checksum and every member before a volume is
  touched: each tar is streamed once (hashed, its members checked by
  `ccci.pure.tarcheck`, and each chunk fed to `tar -x` into a staging
  folder only after it was checked), the
  extracted tree is checked again as it is on disk (every symlink resolved
  through the others must stay inside, nothing but folders, files and
  links), and only when every volume passed are the staging folders put in
  place. A plain local volume is swapped by rename beside its data folder;
  any other volume gets its staging folder inside its data folder, and the
  swap there empties the data folder and moves the staged tree up. The
  volume then holds exactly the snapshot's content (extra files gone),
  owners, modes (setuid/setgid included) and links kept.
- What the member check refuses is in `ccci.pure.tarcheck`; it runs at take
  as well, so a snapshot restore would refuse is never made the known-good.
  `tar -x` may already have written a member into the staging folder when
  a refusal comes (the links are judged at the end of the stream); the staging folder is then deleted and the
  volume was never touched. GNU tar's own defences (no `..`, links with
  `..` or `/` made only at the end) keep even that moment inside the
  staging folder.
- Restore and `verify` read a snapshot from the disk itself (direct I/O,
  else its cached pages dropped first), so `verify` checks what the disk
  holds; a read-back inside take would only re-read the page cache it just
  wrote, so take does not do one.
- Streams: read once into a fixed pool of 1 MiB buffers, hashed and
  checked, then copied on; memory stays flat whatever the volume size.
This module knows nothing of runs, canonicals or reconcilers.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import json
import logging
import mmap
import os
import queue
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
import cattrs

from ccci.pure import tarcheck
from ccci.seams import engine, proc
from ccci.seams.engine import Stack

log = logging.getLogger("ccci")

CHUNK = 1 << 20
CURRENT = "current"
META = "meta.json"
#: What a take runs: GNU format, the one the member check accepts.
TAKE_ARGV = ["tar", "--format=gnu", "--numeric-owner"]


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


class TakeFailed(SnapshotError):
    """A step of a take failed on the file system (say, the disk is full)."""

    def __init__(self, step: str, path: Path, error: OSError):
        self.step, self.path, self.errno = step, path, error.errno
        reason = error.strerror or str(error)
        super().__init__(f"take failed while {step} ({path}): {reason}; the known-good is unchanged")


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


class _Tee:
    """Reads a tar stream once: hashes it, checks its members, and copies it on.

    A pipeline over a fixed pool of 1 MiB buffers: this thread reads into a
    free buffer (no new bytes object per chunk), one worker hashes the chunk
    and checks its members, a second writes it on and hands the buffer back.
    A chunk is written only after it was checked. Reading, hashing and
    writing release the GIL, so they overlap on two cores; the pool bounds
    memory whatever the stream's size.
    """

    BUFFERS = 8

    def __init__(self, source: int, sink: _Sink | None, chunk: int = CHUNK):
        self.source = source
        self.sink = sink
        self.chunk = chunk
        self.hash = hashlib.sha256()
        self.size = 0
        self.scanner = tarcheck.TarScanner()

    def pump(self) -> int:
        """Move the whole stream; the member count, or Corrupt/HostileArchive."""
        failures: list[BaseException] = []
        free: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
        for _ in range(self.BUFFERS):
            free.put(mmap.mmap(-1, self.chunk))  # page-aligned, as direct reads need
        checking: queue.SimpleQueue[tuple[mmap.mmap, int] | None] = queue.SimpleQueue()
        writing: queue.SimpleQueue[tuple[mmap.mmap, int] | None] = queue.SimpleQueue()

        def stage(work: queue.SimpleQueue, step, onward: queue.SimpleQueue | None) -> None:
            while (item := work.get()) is not None:
                if not failures:  # after a failure only drain, so the reader never waits on a dead stage
                    try:
                        step(memoryview(item[0])[:item[1]])
                    except BaseException as error:  # handed to the reading thread
                        failures.append(error)
                if onward is not None and not failures:
                    onward.put(item)
                else:
                    free.put(item[0])
            if onward is not None:
                onward.put(None)

        def check(data: memoryview) -> None:
            self.hash.update(data)
            self.scanner.feed(data)

        stages = [threading.Thread(target=stage, daemon=True, args=(
            checking, check, writing if self.sink is not None else None))]
        if self.sink is not None:
            stages.append(threading.Thread(target=stage, daemon=True, args=(writing, self.sink.write, None)))
        for thread in stages:
            thread.start()
        try:
            while not failures:
                buffer = free.get()
                got = _fill(self.source, buffer)
                if not got:
                    break
                self.size += got
                checking.put((buffer, got))
        finally:
            checking.put(None)
            for thread in stages:
                thread.join()
        with _as_snapshot_errors():
            if failures:
                raise failures[0]
            return self.scanner.finish()


def _fill(fd: int, buffer: mmap.mmap) -> int:
    """Read from fd into buffer until it is full or the stream ends; the bytes read."""
    view = memoryview(buffer)
    got = 0
    while got < len(view):
        try:
            n = os.readv(fd, [view[got:]])
        except OSError as error:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            if error.errno != errno.EINVAL or not flags & os.O_DIRECT:
                raise
            # A direct read the file system refuses here (an odd length): read on through the cache.
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)
            continue
        if not n:
            break
        got += n
    return got


@contextmanager
def _read_from_disk(path: Path) -> Iterator[int]:
    """A descriptor reading `path` from the disk itself: direct I/O, else its cache dropped first.

    Restore and verify read a snapshot once and never again: direct reads
    skip filling the page cache with it (and the copy out of it), and a
    verify then checks what the disk holds, not what memory remembers.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        fd = os.open(path, os.O_RDONLY)  # no direct I/O on this file system
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        yield fd
    finally:
        os.close(fd)


class _Sink:
    """Where a stream is copied to: a file or a pipe, written whole chunk by chunk.

    For a file (`flush_behind`), the kernel is told to start writing each
    completed stretch to disk while the stream goes on, and to forget the
    stretches already on disk: the fsync at the end then has little left to
    wait for, and a snapshot does not crowd the page cache (nor does a later
    `verify` read it from memory instead of the disk).
    """

    STRETCH = 16 << 20

    def __init__(self, fd: int, *, flush_behind: bool = False):
        self.fd = fd
        self.flush_behind = flush_behind
        self.written = 0
        self.advised = 0

    def write(self, data: memoryview) -> None:
        while data:
            n = os.write(self.fd, data)
            data = data[n:]
            self.written += n
        if self.flush_behind and self.written - self.advised >= self.STRETCH:
            # DONTNEED starts writeback of the range's dirty pages and drops its
            # clean ones: the stretch advised last time is on disk by now.
            start = max(0, self.advised - self.STRETCH)
            os.posix_fadvise(self.fd, start, self.written - start, os.POSIX_FADV_DONTNEED)
            self.advised = self.written


def _wide_pipe(fd: int) -> None:
    """Let the pipe to or from tar hold a whole chunk: fewer wake-ups on both sides."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass  # above the system's pipe-max-size: the default pipe works, only slower


@contextmanager
def _as_snapshot_errors() -> Iterator[None]:
    """The checker's verdicts as this module's errors."""
    try:
        yield
    except tarcheck.Hostile as error:
        raise HostileArchive(str(error)) from None
    except tarcheck.Malformed as error:
        raise Corrupt(str(error)) from None


@attrs.define
class AppVolumes:
    """The named volumes of one stack, and whether the stack is running."""

    stack: Stack

    def names(self) -> list[str]:
        return engine.stack_volumes(self.stack.client, self.stack.name)

    def inspect(self, name: str) -> engine.VolumeInfo:
        info = engine.inspect_volume(self.stack.client, name)
        if info is None:
            raise SnapshotError(f"volume {name} does not exist")
        return info

    def mountpoint(self, name: str) -> Path:
        return Path(self.inspect(name).mountpoint)

    def swappable(self, name: str) -> bool:
        """A plain local volume whose data folder ccci may replace by rename."""
        return self.inspect(name).plain_local

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
                with _read_from_disk(path) as source:
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
        with _step("creating the snapshot folder", self.root):
            self.root.mkdir(parents=True, exist_ok=True)
        self.remove_unused()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        gen_name = f"gen-{stamp}-{secrets.token_hex(4)}"
        tmp = self.root / f".tmp-{gen_name}"
        gen = self.root / gen_name
        try:
            with _step("creating the new generation", tmp):
                tmp.mkdir()
            entries = tuple(self._take_volume(app, name, tmp) for name in names)
            meta = SnapshotMeta(recipe, version, commit, stamp, entries)
            meta_path = tmp / META
            with _step("writing the snapshot's meta", meta_path), open(meta_path, "w") as handle:
                handle.write(json.dumps(_converter.unstructure(meta), indent=2, sort_keys=True))
                handle.flush()
                os.fsync(handle.fileno())
            with _step("syncing the new generation", tmp):
                _fsync_dir(tmp)
            with _step("renaming the new generation into place", gen):
                os.rename(tmp, gen)
            with _step(f"switching {CURRENT} to the new generation", self.root / CURRENT):
                self._point_current_at(gen_name)
        except BaseException:
            self.remove_unused(written=gen)  # the half-made generation, or the whole one that never became current
            raise
        self.remove_unused()
        log.info("snapshot of %s taken: %s", app.stack.name, ", ".join(
            f"{e.name} {e.size} B" for e in entries))
        return meta

    def _take_volume(self, app: AppVolumes, name: str, into: Path) -> VolumeEntry:
        mountpoint = app.mountpoint(name)
        file_name = f"{name}.tar"
        argv = [*TAKE_ARGV, "-C", str(mountpoint), "-cf", "-", "."]
        stop = threading.Event()
        ahead = threading.Thread(target=_read_ahead, args=(mountpoint, stop), daemon=True)
        with _step(f"writing volume {name}", into / file_name), open(into / file_name, "wb", buffering=0) as out:
            ahead.start()
            try:
                with proc.streaming(argv, read=True, calls=self.calls) as tar:
                    assert tar.stdout is not None
                    _wide_pipe(tar.stdout.fileno())
                    tee = _Tee(tar.stdout.fileno(), _Sink(out.fileno(), flush_behind=True))
                    tee.pump()
            finally:
                stop.set()
                ahead.join()
            os.fsync(out.fileno())
        return VolumeEntry(name, file_name, tee.size, tee.hash.hexdigest())

    def _point_current_at(self, gen_name: str) -> None:
        link_tmp = self.root / f".{CURRENT}-{secrets.token_hex(4)}"
        os.symlink(gen_name, link_tmp)
        os.replace(link_tmp, self.root / CURRENT)
        _fsync_dir(self.root)

    def remove_unused(self, written: Path | None = None) -> list[str]:
        """Remove every generation and leftover that is not `current`; their names.

        What an unfinished or failed take left: `.tmp-gen-*` folders,
        temporary links, and `gen-*` folders that are not current (a take
        killed after its rename). Without a `current` no `gen-*` is removed
        (one may be the only copy of a known-good whose link was lost) except
        `written`, the one the failing take made itself. Never raises: it
        cleans up after errors.
        """
        keep = self.current()
        removed = []
        try:
            found = list(self.root.iterdir())
        except OSError:
            return removed
        for path in found:
            if keep is not None and path.name == keep.name:
                continue
            if path.name.startswith((".tmp-gen-", f".{CURRENT}-")) or (
                path.name.startswith("gen-") and (keep is not None or path == written)
            ):
                try:
                    if path.is_symlink() or path.is_file():
                        path.unlink()
                    else:
                        shutil.rmtree(path)
                    removed.append(path.name)
                except OSError as error:
                    log.warning("could not remove %s: %s", path, error)
        return removed

    # -- restore -------------------------------------------------------------------

    def restore(self, app: AppVolumes) -> SnapshotMeta:
        """Make each volume's content exactly the snapshot's, or touch nothing.

        Every volume is extracted and checked in staging before the first
        one is put in place; a failure before that leaves every volume as
        it was. (A failure while putting them in place, such as a crash,
        can leave some volumes restored and the rest as they were.)
        """
        app.require_undeployed("restore")
        meta = self.meta()
        gen = self.current()
        assert gen is not None
        present = set(app.names())
        missing = [v.name for v in meta.volumes if v.name not in present]
        if missing:
            raise SnapshotError(f"volumes missing on the engine: {missing}")
        infos = {v.name: app.inspect(v.name) for v in meta.volumes}
        staged: dict[str, Path] = {}
        try:
            for entry in meta.volumes:
                info = infos[entry.name]
                data = Path(info.mountpoint)
                # Staging on the same file system as the data, so the swap is renames only.
                staging = (data.parent if info.plain_local else data) / f".ccci-restore-{secrets.token_hex(4)}"
                staging.mkdir()
                staged[entry.name] = staging
                extract(gen / entry.file, entry, staging, self.calls)
            for entry in meta.volumes:
                data = Path(infos[entry.name].mountpoint)
                staging = staged[entry.name]
                if infos[entry.name].plain_local:
                    old = data.parent / f".ccci-old-{secrets.token_hex(4)}"
                    os.rename(data, old)
                    os.rename(staging, data)
                    _fsync_dir(data.parent)
                    # The volume is right from here on; its old data goes in the background.
                    proc.detach(["rm", "-rf", "--", str(old)])
                else:
                    _replace_contents(data, staging)
                del staged[entry.name]
        except BaseException:
            for staging in staged.values():
                shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("restored %s from snapshot %s (%s)", app.stack.name, meta.taken, meta.version)
        return meta



def extract(tar_path: Path, entry: VolumeEntry, into: Path, calls: proc.Calls | None = None) -> None:
    """Extract one volume's tar into the empty folder `into`, checking it on the way and after.

    Corrupt or HostileArchive when the stream or the tree tar made is not
    what a snapshot may hold; `into` is then the caller's to delete.
    """
    argv = ["tar", "--numeric-owner", "--same-owner", "-p", "-C", str(into), "-xf", "-"]
    with _read_from_disk(tar_path) as source:
        with proc.streaming(argv, feed=True, calls=calls) as tar:
            assert tar.stdin is not None
            _wide_pipe(tar.stdin.fileno())
            tee = _Tee(source, _Sink(tar.stdin.fileno()))
            tee.pump()
            if (tee.size, tee.hash.hexdigest()) != (entry.size, entry.sha256):
                raise Corrupt(f"{entry.file}: checksum mismatch (snapshot corrupted)")
    with _as_snapshot_errors():
        check_extracted(into)


@contextmanager
def _step(what: str, path: Path) -> Iterator[None]:
    """An OSError in a step of a take, as a TakeFailed that names the step and the path."""
    try:
        yield
    except TakeFailed:
        raise
    except OSError as error:
        raise TakeFailed(what, path, error) from error


def check_extracted(root: Path) -> None:
    """Check a tree as tar left it: only folders, files and links, every link resolving inside.

    The second line of defence after the member check, on what is really on
    disk: whatever the archive held, a tree that passes has no path that
    resolves outside `root`. Raises tarcheck.Hostile.
    """

    def readlink(key: str) -> str | None:
        path = os.path.join(root, key)
        return os.readlink(path) if os.path.islink(path) else None

    folders = [""]
    while folders:
        key = folders.pop()
        with os.scandir(os.path.join(root, key)) as entries:
            for item in entries:
                child = f"{key}/{item.name}" if key else item.name
                if item.is_symlink():
                    why = tarcheck.escapes(key, os.readlink(item.path), readlink)
                    if why is not None:
                        raise tarcheck.Hostile(f"extracted link {why}: {child!r}")
                elif item.is_dir(follow_symlinks=False):
                    folders.append(child)
                elif not item.is_file(follow_symlinks=False):
                    raise tarcheck.Hostile(f"extracted something that is not a file, folder or link: {child!r}")


def _replace_contents(data: Path, staging: Path) -> None:
    """Make `data` hold what `staging` (a folder inside it) holds, by renames."""
    for child in data.iterdir():
        if child != staging:
            _remove(child)
    for child in staging.iterdir():
        os.rename(child, data / child.name)
    root = staging.lstat()  # the archive's `.`: the volume root's owner and mode
    os.rmdir(staging)
    os.chown(data, root.st_uid, root.st_gid)
    os.chmod(data, stat.S_IMODE(root.st_mode))
    os.utime(data, ns=(root.st_atime_ns, root.st_mtime_ns))
    _fsync_dir(data)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _read_ahead(root: Path, stop: threading.Event) -> None:
    """Ask the kernel to start reading every file tar is about to read.

    tar reads one file at a time; on a cold cache each small file costs a
    round trip to the disk. Walking the tree in the same (readdir) order and
    advising WILLNEED queues those reads in parallel, so tar finds most files
    already in memory. Advice only: nothing is read into this process.
    """
    # Depth first, each folder in readdir order, a subfolder where tar meets it:
    # tar's own order, so the file advised first is the one tar reads next.
    try:
        pending = [iter(list(os.scandir(root)))]
    except OSError:
        return
    while pending and not stop.is_set():
        entry = next(pending[-1], None)
        if entry is None:
            pending.pop()
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                pending.append(iter(list(os.scandir(entry.path))))
            elif entry.is_file(follow_symlinks=False):
                fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                finally:
                    os.close(fd)
        except OSError:
            continue


def show(meta: SnapshotMeta) -> Mapping[str, object]:
    return _converter.unstructure(meta)
