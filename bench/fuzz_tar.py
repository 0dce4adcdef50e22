"""Fuzz budget for the snapshot tar check and restore's extraction.

    python3 bench/fuzz_tar.py [BUDGET]        (default 10000)

Feeds BUDGET generated tar streams to the member check and, when it does
not refuse them, to restore's extraction (`ccci.capabilities.snapshot.extract`:
hash and check while GNU tar extracts into a folder, then the tree check).
Half are hostile archives built member by member (links, hard links, chains
of links, pax local and global headers, GNU long names, sparse members,
devices, names with `..` and control characters), half are ordinary GNU
archives with header bytes overwritten (checksums repaired or not), so the
framing is fuzzed too. Counts:
  crashes   an exception that is not a refusal (Corrupt, HostileArchive, a
            failed tar) — the check must refuse, never break
  escapes   anything written beside the extraction folder, or a link in it
            that resolves outside (by realpath)
Prints one JSON line; exit 1 when either count is not 0. `run(budget)` is the
function `bench/fuzz.py` or a test can call.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tarfile
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ccci.capabilities.snapshot import Corrupt, HostileArchive, VolumeEntry, extract  # noqa: E402
from ccci.seams.proc import CommandError  # noqa: E402
from tests.fixtures.tar_archives import VICTIM, archives, around, escaped, gnu  # noqa: E402

_names = st.text(alphabet="ab./\n-", min_size=1, max_size=12)
_ordinary = st.lists(
    st.tuples(_names, st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE]), _names),
    min_size=1, max_size=5,
)


@st.composite
def mutated(draw) -> bytes:
    """An ordinary GNU archive with a few header bytes overwritten."""
    entries = [(n, k, (x.encode() if k == tarfile.REGTYPE else x)) for n, k, x in draw(_ordinary)]
    data = bytearray(gnu(entries))
    headers = list(range(0, len(data) - 1024, 512))
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.sampled_from(headers))
        offset = draw(st.sampled_from([0, 100, 124, 136, 156, 157, 257, 265, 345, 482, 500]))
        data[start + offset:start + offset + 12] = draw(st.binary(min_size=1, max_size=12))[: 512 - offset]
        if draw(st.booleans()):  # repair the checksum, so the header gets past it
            block = data[start:start + 512]
            block[148:156] = b" " * 8
            data[start + 148:start + 156] = b"%06o\0 " % sum(block)
    return bytes(data)


def run(budget: int) -> dict[str, object]:
    """Fuzz the check and restore on `budget` inputs; counts by outcome."""
    counts = {"inputs": 0, "refused by the check": 0, "refused by tar": 0, "extracted": 0,
              "crashes": 0, "escapes": 0}
    first: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="ccci-fuzz-tar-"))
    box, volume, tar_path = work / "box", work / "box" / "vol", work / "input.tar"
    (box / "outside").mkdir(parents=True)
    (box / "outside" / VICTIM).write_text("untouched\n")
    before = around(box, volume)

    def one(payload: bytes) -> None:
        counts["inputs"] += 1
        shutil.rmtree(volume, ignore_errors=True)
        volume.mkdir()
        tar_path.write_bytes(payload)
        entry = VolumeEntry("v", "v.tar", len(payload), hashlib.sha256(payload).hexdigest())
        try:
            extract(tar_path, entry, volume)
            counts["extracted"] += 1
        except (Corrupt, HostileArchive):
            counts["refused by the check"] += 1
            shutil.rmtree(volume, ignore_errors=True)  # as restore does with a refused staging folder
        except CommandError:
            counts["refused by tar"] += 1
            shutil.rmtree(volume, ignore_errors=True)
        except Exception:
            counts["crashes"] += 1
            first.append(f"crash on {payload[:64]!r}…: {traceback.format_exc(limit=3)}")
            shutil.rmtree(volume, ignore_errors=True)
        problems = escaped(volume, box, before)
        if problems:
            counts["escapes"] += 1
            first.append(f"escape on {payload[:64]!r}…: {problems}")

    @settings(max_examples=budget, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(payload=st.one_of(archives(str(box / "outside")), mutated()))
    def fuzz(payload: bytes) -> None:
        one(payload)

    try:
        fuzz()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"parser": "snapshot tar check + restore", **counts, "first problems": first[:3]}


def main(argv: list[str]) -> int:
    budget = int(argv[0]) if argv else 10_000
    result = run(budget)
    print(json.dumps(result))
    return 1 if result["crashes"] or result["escapes"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
