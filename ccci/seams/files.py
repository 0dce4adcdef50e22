"""Files that matter are written whole or not at all.

Every state file ccci keeps (records, results, alerts, the bridge's store) is
written beside its place, fsynced, then renamed over it, so a reader sees the
old file or the new one and a crash leaves no half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write beside, fsync, rename: a reader sees the old file or the new one.

    The file gets `mode` (mkstemp's own 0600 would hide run results from the
    status page's web server); no secret is ever written through here.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
