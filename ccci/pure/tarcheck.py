"""The tar stream checker: which archives a snapshot may hold (pure: bytes in, verdict out).

A snapshot is what `tar --format=gnu -c` makes of a volume, and it is
extracted by GNU tar. This module accepts exactly the subset such a take
produces and refuses everything else, so the checker and GNU tar can never
read one archive two ways:

- headers: GNU format only (magic `ustar  \\0`), a checksum that matches,
  numbers in strict octal (or base-256 for a positive size); pax headers,
  local or global, are refused outright (GNU tar applies a global header's
  keywords to every member that follows, and a local one may rename a member
  or resize its data), as are sparse members, devices, FIFOs, multi-volume,
  dump-dir and every other member type; a link or directory that carries
  data, and a regular file whose name ends in `/`, are refused (tars differ
  on how to frame them);
- names: no absolute path, no `..`; GNU long names and long link targets
  (`L`, `K`) are honoured as GNU tar honours them;
- links, given every link earlier in the archive: no member may be made at
  or under a path an earlier member made a symlink (so no member is written
  through a link); a hard link may not point at or through a symlink (it
  would copy the link, whose relative target then means something else);
  and when the stream ends, every symlink's target is resolved through all
  the symlinks the archive makes, as the kernel would, and must stay inside
  the volume (a chain longer than the kernel's 40 hops is refused too).

`escapes` is the resolver, shared with the check of an extracted tree.
Nothing here reads a file: the caller feeds the bytes.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
from collections.abc import Callable

#: Symlinks the kernel follows in one path walk before giving up (ELOOP).
MAX_HOPS = 40
#: The bytes of link names and targets the checker keeps to resolve links at the end.
MAX_LINK_BYTES = 32 << 20

GNU_MAGIC = b"ustar  \0"


class ArchiveError(Exception):
    """Base: the archive is not one a snapshot may hold."""


class Malformed(ArchiveError):
    """Not a (complete, well-formed) tar stream."""


class Hostile(ArchiveError):
    """A member would leave the volume, create a device, or is of a kind refused."""


def check_member(member: tarfile.TarInfo) -> None:
    """The checks one member allows on its own (tarfile's view of it)."""
    check_names(member.name, member.type, member.linkname)


def check_names(name: str, kind: bytes, linkname: str) -> None:
    """Refuse what could escape the volume root or create a device, by its text alone."""
    if not name:
        raise Hostile("a member without a name")
    if name.startswith("/"):
        raise Hostile(f"absolute path in archive: {name!r}")
    if ".." in name.split("/"):
        raise Hostile(f"path leaves the volume: {name!r}")
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
        raise Hostile(f"device or fifo in archive: {name!r}")
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        if linkname.startswith("/"):
            raise Hostile(f"link to an absolute path: {name!r} -> {linkname!r}")
        base = posixpath.dirname(posixpath.normpath(name)) if kind == tarfile.SYMTYPE else ""
        resolved = posixpath.normpath(posixpath.join(base, linkname))
        if resolved == ".." or resolved.startswith("../"):
            raise Hostile(f"link leaves the volume: {name!r} -> {linkname!r}")


def key_of(name: str) -> str:
    """A member's path relative to the volume root, normalised: '' for the root."""
    path = posixpath.normpath(name)
    return "" if path == "." else path


def escapes(directory: str, target: str, readlink: Callable[[str], str | None]) -> str | None:
    """Why `target`, read in `directory` (a key), resolves outside the root; None if it stays in.

    Walks the target one component at a time as the kernel does, replacing
    every component that `readlink` says is a symlink by the link's target.
    `..` above the root, an absolute target met on the way, or more than
    MAX_HOPS links are escapes. A path through something that is not a
    folder counts as inside: the kernel stops such a walk with an error.
    """
    current = directory.split("/") if directory else []
    pending = list(reversed(target.split("/")))
    if target.startswith("/"):
        return "an absolute link"
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not current:
                return "leaves the volume"
            current.pop()
            continue
        link = readlink("/".join([*current, part]))
        if link is None:
            current.append(part)
            continue
        hops += 1
        if hops > MAX_HOPS:
            return f"a chain of more than {MAX_HOPS} links"
        if link.startswith("/"):
            return "goes through an absolute link"
        pending.extend(reversed(link.split("/")))
    return None


class TarScanner:
    """Checks the members of a tar stream as its bytes go by, in one pass.

    Fed chunks in order; parses each 512-byte header, checks the member
    (see the module docstring), and skips its data without copying it.
    `finish` checks the end of the stream and the links; it returns the
    number of members.
    """

    _LONG = {ord("L"), ord("K")}
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
        self.links: dict[str, str] = {}  # symlink key -> its target, every one made so far
        self.link_bytes = 0

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
            if not self.header and end - pos >= 512:  # a whole header in this chunk: no staging copy
                pos += 512
                self._on_header(bytes(view[pos - 512:pos]))
                continue
            take = min(512 - len(self.header), end - pos)
            self.header += view[pos:pos + take]
            pos += take
            if len(self.header) == 512:
                block = bytes(self.header)
                self.header.clear()
                self._on_header(block)

    def finish(self) -> int:
        if self.skip or self.header or self.capture is not None or self.overrides:
            raise Malformed("the tar stream ends in the middle of a member")
        if self.members == 0:
            raise Malformed("the tar stream holds no member")
        for key, target in self.links.items():
            why = escapes(posixpath.dirname(key), target, self.links.get)
            if why is not None:
                raise Hostile(f"link {why}: {key!r} -> {target!r}")
        return self.members

    def _on_header(self, block: bytes) -> None:
        if block == _ZERO_BLOCK:
            self.zero_blocks += 1
            return
        self.zero_blocks = 0
        field = block[148:156]  # summed as eight spaces
        if _number(field, "checksum") != sum(block) - sum(field) + 256:
            raise Malformed("not a tar header (checksum mismatch)")
        kind = block[156]
        if block[257:265] != GNU_MAGIC:
            raise Hostile(f"a member not in GNU tar's format (type {_show(kind)}): snapshots are GNU tar format")
        size = _number(block[124:136], "size")
        padded = (size + 511) // 512 * 512
        if kind in self._LONG:
            if size > self._MAX_CAPTURE:
                raise Malformed("an oversized long name")
            self.capture, self.capture_left, self.capture_kind = bytearray(), size, kind
            self.capture_padding = padded - size
            if size == 0:
                self._captured()
            return
        if kind not in _ACCEPTED:
            raise Hostile(f"a member of type {_show(kind)} ({_KINDS.get(kind, 'unknown')}), which a snapshot never holds")
        name = self.overrides.pop("path") if "path" in self.overrides else _text(block[0:100])
        linkname = self.overrides.pop("linkpath") if "linkpath" in self.overrides else _text(block[157:257])
        regular = kind in _REGULAR
        if not regular and size:
            raise Hostile(f"a link or folder that carries data: {name!r}")
        if regular and name.endswith("/"):
            raise Hostile(f"a file whose name ends in '/': {name!r}")
        type_ = tarfile.REGTYPE if regular else bytes([kind])
        check_names(name, type_, linkname)
        key = key_of(name)
        if not key and kind != _DIR:
            raise Hostile(f"the volume's root made something other than a folder: {name!r}")
        if self.links:
            self._refuse_through_links(key, name)
        if kind == _SYM:
            self.link_bytes += len(key) + len(linkname)
            if self.link_bytes > MAX_LINK_BYTES:
                raise Hostile("more links than a snapshot check keeps in memory")
            self.links[key] = linkname
        elif kind == _HARD and self.links:
            target = key_of(linkname)
            if target in self.links or _through(target, self.links):
                raise Hostile(f"a hard link to or through a symlink: {name!r} -> {linkname!r}")
        self.members += 1
        self.skip = padded if regular else 0

    def _refuse_through_links(self, key: str, name: str) -> None:
        if key in self.links:
            raise Hostile(f"a member made over a symlink made earlier: {name!r}")
        if _through(key, self.links):
            raise Hostile(f"a member written through a symlink made earlier: {name!r}")

    def _captured(self) -> None:
        data = bytes(self.capture or b"")
        self.capture = None
        self.skip = self.capture_padding
        self.overrides["path" if self.capture_kind == ord("L") else "linkpath"] = _text(data)


def _through(key: str, links: dict[str, str]) -> bool:
    """Whether a proper prefix of `key` is a symlink in `links`."""
    slash = key.find("/")
    while slash >= 0:
        if key[:slash] in links:
            return True
        slash = key.find("/", slash + 1)
    return False


_ZERO_BLOCK = bytes(512)
_SYM, _HARD, _DIR = ord("2"), ord("1"), ord("5")
_REGULAR = {ord("0"), 0}
_ACCEPTED = _REGULAR | {_SYM, _HARD, _DIR}
_KINDS = {
    ord("3"): "character device", ord("4"): "block device", ord("6"): "fifo", ord("7"): "contiguous file",
    ord("x"): "pax header", ord("g"): "pax global header", ord("S"): "GNU sparse file",
    ord("D"): "GNU dump dir", ord("M"): "GNU multi-volume", ord("V"): "volume label", ord("N"): "GNU old long name",
}
_OCTAL = re.compile(rb" *([0-7]+)(?:[ \0][\s\S]*)?")


def _show(kind: int) -> str:
    return repr(chr(kind)) if 32 <= kind < 127 else f"0x{kind:02x}"


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes, what: str) -> int:
    """A header number as GNU tar reads it; anything it might read otherwise is Malformed."""
    if field[0] == 0x80:  # base-256, positive: sizes beyond 8 GiB
        return int.from_bytes(field[1:], "big")
    match = _OCTAL.fullmatch(field)
    if match is None:
        raise Malformed(f"not a tar header (bad {what} field)")
    return int(match.group(1), 8)
