"""The canonical registry: per enrolled recipe, one warm app whose data is kept.

Per recipe, under `<state>/canonical/<recipe>/`:
  canonical.json   the record: recipe, domain `warm-<recipe>.<base>`, version,
                   commit, status (idle | quick | seeding), volumes
                   (known-good | used), updated; written atomically
  snapshot/        the last-known-good of the app's volumes (ccci.capabilities.snapshot)
  abra/            the canonical's own ABRA_DIR: recipe checkout, env file

Invariants:
- `available()` is true only when the record, every volume the snapshot names
  (retained on the engine) and a snapshot that verifies all exist.
- The snapshot is the truth of the known-good. The record is written after
  the snapshot; if a crash falls between the two, the record disagrees with
  the snapshot's meta and is repaired from it when read.
- `volumes: used` means a quick run left the volumes as the PR's version made
  them; the next user restores the known-good before it reattaches, and a
  snapshot of them is refused unless asked for by name.
- `updated` is when the record last changed: a mark that changes nothing
  writes nothing.
- `verified.json` (`Verified`) says when the snapshot was last verified and
  how it went; every verify of a canonical's snapshot goes through
  `Canonical.verify_snapshot`, which writes it (a take's own read-back is
  the snapshot's `taken`).
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import shutil
from pathlib import Path

import attrs
import cattrs
import docker

from ccci.capabilities import locks
from ccci.seams import proc
from ccci.pure.config import Config
from ccci.seams.engine import Stack
from ccci.pure.names import BadInput, Domain, RecipeName, stack_name, warm_domain
from ccci.capabilities.recipe import Checkout
from ccci.capabilities.snapshot import AppVolumes, NoSnapshot, SnapshotError, SnapshotMeta, Snapshots
from ccci.pure import strict
from ccci.seams.files import write_atomic

log = logging.getLogger("ccci")


class Use(enum.Enum):
    """What the canonical is in use for right now (the record's `status`)."""

    IDLE = "idle"
    QUICK = "quick"
    SEEDING = "seeding"


class Volumes(enum.Enum):
    KNOWN_GOOD = "known-good"
    USED = "used"


@attrs.frozen
class Record:
    recipe: str
    domain: str
    version: str
    commit: str
    status: Use = Use.IDLE
    volumes: Volumes = Volumes.KNOWN_GOOD
    updated: str = ""


_converter = cattrs.Converter(forbid_extra_keys=True)


@attrs.frozen
class Verified:
    """The last verify of a canonical's snapshot (`verified.json`)."""

    at: str  # when it ended (UTC, like `updated`)
    ok: bool
    taken: str = ""  # the `taken` stamp of the snapshot it verified ("": its meta was unreadable)
    why: str = ""  # why it failed

    @staticmethod
    def path(folder: Path) -> Path:
        return folder / "verified.json"

    @classmethod
    def read(cls, folder: Path) -> Verified | None:
        """The record in a canonical's folder; None without one; ValueError when unreadable."""
        try:
            text = cls.path(folder).read_text()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        return strict.record(text, cls, _converter, "a verify record")

    def write(self, folder: Path) -> None:
        write_atomic(self.path(folder), json.dumps(_converter.unstructure(self), indent=2, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Canonical:
    def __init__(self, config: Config, recipe: RecipeName, client: docker.DockerClient):
        self.config = config
        self.recipe = recipe
        self.client = client
        self.dir = config.state / "canonical" / recipe.value
        self.domain: Domain = warm_domain(recipe, config.domain)
        self.stack = Stack(client, stack_name(self.domain))
        self.abra_dir = self.dir / "abra"
        self.snapshots = Snapshots(self.dir / "snapshot")

    @property
    def record_path(self) -> Path:
        return self.dir / "canonical.json"

    # -- the record ----------------------------------------------------------------

    def record(self) -> Record | None:
        try:
            data = json.loads(self.record_path.read_text())
        except FileNotFoundError:
            return None
        record = _converter.structure(data, Record)
        try:
            meta = self.snapshots.meta()
        except SnapshotError:
            return record
        if (meta.version, meta.commit) != (record.version, record.commit):
            log.warning(
                "canonical %s: record says %s, snapshot says %s; the snapshot is the known-good",
                self.recipe, record.version, meta.version,
            )
            record = attrs.evolve(record, version=meta.version, commit=meta.commit)
            self.write(record)
        return record

    def write(self, record: Record) -> None:
        record = attrs.evolve(record, updated=_now())
        write_atomic(self.record_path, json.dumps(_converter.unstructure(record), indent=2, sort_keys=True))

    def mark(self, *, status: Use | None = None, volumes: Volumes | None = None) -> Record:
        record = self.record()
        assert record is not None, "mark() needs a record"
        marked = attrs.evolve(
            record,
            status=status if status is not None else record.status,
            volumes=volumes if volumes is not None else record.volumes,
        )
        if marked != record:
            self.write(marked)
        return marked

    # -- availability ----------------------------------------------------------------

    def app_volumes(self) -> AppVolumes:
        return AppVolumes(self.stack)

    def available(self) -> tuple[bool, str]:
        """(True, "") when quick can use this canonical; else (False, why not)."""
        record = self.record()
        if record is None:
            return False, f"no canonical record for {self.recipe}"
        try:
            meta = self.verify_snapshot()
        except NoSnapshot:
            return False, f"canonical {self.recipe} has no known-good snapshot"
        except SnapshotError as error:
            return False, f"canonical {self.recipe}'s snapshot does not verify: {error}"
        retained = set(self.app_volumes().names())
        missing = [name for name in meta.volume_names() if name not in retained]
        if missing:
            return False, f"canonical {self.recipe}'s volumes are gone: {missing}"
        if not self.abra_dir.joinpath("servers").is_dir():
            return False, f"canonical {self.recipe} has no ABRA_DIR"
        return True, ""

    def meta(self) -> SnapshotMeta:
        return self.snapshots.meta()

    def verify_snapshot(self) -> SnapshotMeta:
        """Verify the known-good (Snapshots.verify) and record when and how it went.

        No snapshot, nothing verified: nothing recorded. A record that cannot
        be written is logged; the verify's own verdict stands.
        """
        try:
            meta = self.snapshots.verify()
        except NoSnapshot:
            raise
        except SnapshotError as error:
            try:
                taken = self.snapshots.meta().taken
            except SnapshotError:
                taken = ""
            self._note_verify(Verified(_now(), False, taken, str(error)[:500]))
            raise
        self._note_verify(Verified(_now(), True, meta.taken))
        return meta

    def _note_verify(self, verified: Verified) -> None:
        try:
            verified.write(self.dir)
        except OSError as error:
            log.warning("canonical %s: cannot record the verify: %s", self.recipe, error)

    # -- the known-good, by hand (ccci-snapshot) ---------------------------------------

    def take_snapshot(self, *, accept_used_volumes: bool = False) -> SnapshotMeta:
        """Make the volumes as they are now the known-good, at the recorded version.

        Refused (BadInput) without a record, and when a quick run left the
        PR's data in the volumes (`used`) unless `accept_used_volumes`.
        """
        record = self.record()
        if record is None:
            raise BadInput(f"{self.recipe} has no canonical record: promote it with a green cold run")
        if record.volumes is Volumes.USED and not accept_used_volumes:
            raise BadInput(
                f"the volumes of {self.recipe}'s canonical are 'used' (a quick run left a PR's data in them): "
                f"`ccci-snapshot restore {self.recipe}` puts the known-good back; to make what they hold the "
                f"new known-good anyway, `ccci-snapshot take {self.recipe} --accept-used-volumes`"
            )
        meta = self.snapshots.take(self.app_volumes(), recipe=self.recipe.value, version=record.version,
                                   commit=record.commit)
        self.mark(volumes=Volumes.KNOWN_GOOD)
        return meta

    def restore_snapshot(self) -> SnapshotMeta:
        """Make the volumes the known-good again; the record says so when there is one."""
        meta = self.snapshots.restore(self.app_volumes())
        if self.record() is not None:
            self.mark(volumes=Volumes.KNOWN_GOOD)
        return meta

    # -- the canonical's recipe checkout ---------------------------------------------

    def checkout(self, calls: proc.Calls) -> Checkout:
        """The canonical's own checkout, cloned once and fetched on each use."""
        path = self.abra_dir / "recipes" / self.recipe.value
        if not (path / ".git").is_dir():
            shutil.rmtree(path, ignore_errors=True)
            return Checkout.clone(self.config.recipe_url(self.recipe), path, calls)
        checkout = Checkout(path, calls)
        checkout.git("fetch", "--quiet", "--tags", "--force", "origin")
        return checkout


class SnapshotAction(enum.Enum):
    """What `ccci-snapshot` is asked to do with a canonical's known-good."""

    TAKE = "take"
    RESTORE = "restore"
    VERIFY = "verify"
    SHOW = "show"


def snapshot_by_hand(
    config: Config, recipe: RecipeName, client: docker.DockerClient, action: SnapshotAction,
    *, accept_used_volumes: bool = False,
) -> SnapshotMeta:
    """Take, restore, verify or show a canonical's snapshot; all but show hold the app's lock."""
    canonical = Canonical(config, recipe, client)
    if action is SnapshotAction.SHOW:
        return canonical.meta()
    with locks.hold(config.state, locks.app_lock_name(recipe.value), f"ccci-snapshot {action.value}",
                    config.timeouts.lock):
        if action is SnapshotAction.VERIFY:
            return canonical.verify_snapshot()
        if action is SnapshotAction.RESTORE:
            return canonical.restore_snapshot()
        return canonical.take_snapshot(accept_used_volumes=accept_used_volumes)
