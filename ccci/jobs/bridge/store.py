"""What the bridge has seen and what it is waiting on, persisted atomically.

One JSON file, `<state_dir>/bridge-state.json`: the ids of trigger comments
already claimed (a replay, also after a restart, starts nothing), the
poller's per-PR comment cursors, and the builds whose result is still to be
reported. Every change is written beside the file, fsynced and renamed
before the caller goes on, so a comment is claimed on disk before its build
is requested. A file that cannot be read stops the bridge instead of being
reset: starting empty would re-trigger every comment it sees again.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from ccci.pure.names import BadInput
from ccci.pure.results import Mode
from ccci.seams.files import write_atomic

FILE = "bridge-state.json"


class BadState(BadInput):
    """The state file exists but is not one the bridge wrote."""


@attrs.frozen
class PendingBuild:
    """A build the bridge requested and will report on its PR when it ends."""

    build: int
    url: str
    repo: str
    pr: int
    sha: str
    recipe: str
    mode: Mode
    comment_id: int
    run_id: str = ""  # the run id passed to CI as RUN_ID ("": a state file from before run ids)


@attrs.define
class _State:
    seen: list[int] = attrs.Factory(list)
    # repo -> {pr number -> highest comment id read}; a repo present here is primed
    cursors: dict[str, dict[str, int]] = attrs.Factory(dict)
    pending: list[PendingBuild] = attrs.Factory(list)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for cls in (_State, PendingBuild):
        converter.register_structure_hook(
            cls, make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True)
        )
    return converter


_CONVERTER = _converter()


class Store:
    """Thread-safe: the webhook server claims from many threads at once."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / FILE
        self._lock = threading.Lock()
        self._state = self._read()
        self._seen = set(self._state.seen)

    def _read(self) -> _State:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return _State()
        except OSError as error:
            raise BadState(f"cannot read {self.path}: {error.strerror}") from None
        try:
            return _CONVERTER.structure(json.loads(text), _State)
        except (ValueError, TypeError, KeyError, AttributeError, cattrs.BaseValidationError):
            raise BadState(
                f"{self.path} is not a bridge state file; move it aside to start afresh "
                "(every comment still on open PRs may then trigger again)"
            ) from None

    def _write(self) -> None:
        self._state.seen = sorted(self._seen)
        write_atomic(self.path, json.dumps(_CONVERTER.unstructure(self._state), sort_keys=True))

    def claim(self, comment_id: int) -> bool:
        """True exactly once per comment id, ever; persisted before returning."""
        with self._lock:
            if comment_id in self._seen:
                return False
            self._seen.add(comment_id)
            try:
                self._write()
            except BaseException:
                self._seen.discard(comment_id)
                raise
            return True

    def seen(self, comment_id: int) -> bool:
        with self._lock:
            return comment_id in self._seen

    # -- the poller's cursors
    def primed(self, repo: str) -> bool:
        with self._lock:
            return repo in self._state.cursors

    def cursor(self, repo: str, pr: int) -> int:
        with self._lock:
            return self._state.cursors.get(repo, {}).get(str(pr), 0)

    def set_cursors(self, repo: str, cursors: dict[int, int]) -> None:
        """Replace a repo's cursors (PRs no longer open drop out)."""
        with self._lock:
            new = {str(pr): value for pr, value in sorted(cursors.items())}
            if self._state.cursors.get(repo) == new:
                return
            self._state.cursors[repo] = new
            self._write()

    def advance(self, repo: str, pr: int, comment_id: int) -> None:
        """Move one PR's cursor past a comment just handled."""
        with self._lock:
            cursors = self._state.cursors.setdefault(repo, {})
            if cursors.get(str(pr), 0) < comment_id:
                cursors[str(pr)] = comment_id
                self._write()

    # -- builds waiting for their result
    def add_pending(self, build: PendingBuild) -> None:
        with self._lock:
            self._state.pending.append(build)
            self._write()

    def pending(self) -> list[PendingBuild]:
        with self._lock:
            return list(self._state.pending)

    def finish(self, build: PendingBuild) -> None:
        with self._lock:
            self._state.pending = [b for b in self._state.pending if b != build]
            self._write()
