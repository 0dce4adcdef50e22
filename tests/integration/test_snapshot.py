"""Snapshots on real volumes: the known-good is never lost, restore is exact or nothing.

Each test breaks something on purpose (a running app, a flipped byte, a
hostile member, SIGKILL mid-take, a full disk at each step of a take, a
take over a PR's leftovers) and then shows the previous known-good is intact
and verifies, and the volume is as it was.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import shutil
import tarfile
import time
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from ccci.seams import engine
from ccci.capabilities import snapshot as snapshot_mod
from ccci.capabilities.snapshot import AppRunning, AppVolumes, Corrupt, HostileArchive, NoSnapshot, Snapshots, TakeFailed
from ccci.seams.proc import CommandError
from tests.fixtures.tar_archives import VICTIM, archives, chain_escape
from tests.fixtures.volumes import IMAGE, FakeApp

pytestmark = pytest.mark.integration


def take(snaps, app, version="1.0.0+1.35.0"):
    return snaps.take(app.app, recipe="fx-web", version=version, commit="c0ffee")


def test_take_writes_one_tar_per_volume_with_checksums(tmp_path, fake_app):
    snaps = Snapshots(tmp_path / "snap")
    meta = take(snaps, fake_app)
    assert sorted(meta.volume_names()) == sorted(fake_app.volumes)
    assert (meta.recipe, meta.version, meta.commit) == ("fx-web", "1.0.0+1.35.0", "c0ffee")
    gen = snaps.current()
    assert sorted(p.name for p in gen.iterdir()) == sorted([f"{v}.tar" for v in fake_app.volumes] + ["meta.json"])
    assert snaps.verify() == meta
    with tarfile.open(gen / f"{fake_app.volumes[0]}.tar") as archive:
        assert "./site/index.html" in archive.getnames()


def test_nothing_to_verify_or_restore_before_the_first_take(tmp_path, fake_app):
    snaps = Snapshots(tmp_path / "snap")
    with pytest.raises(NoSnapshot):
        snaps.verify()
    with pytest.raises(NoSnapshot):
        snaps.restore(fake_app.app)


def test_take_and_restore_refuse_while_the_app_runs(tmp_path, fake_app, docker_client):
    snaps = Snapshots(tmp_path / "snap")
    take(snaps, fake_app)
    before = snaps.current()
    container = docker_client.containers.run(
        IMAGE, ["sleep", "60"], detach=True, labels={engine.NAMESPACE: fake_app.stack},
        volumes={fake_app.volumes[0]: {"bind": "/data"}},
    )
    try:
        with pytest.raises(AppRunning, match="undeploy it first"):
            take(snaps, fake_app, "2.0.0+x")
        with pytest.raises(AppRunning):
            snaps.restore(fake_app.app)
    finally:
        container.remove(force=True)
    assert snaps.current() == before and snaps.verify().version == "1.0.0+1.35.0"


def test_restore_makes_the_volume_exactly_the_snapshot(tmp_path, fake_app):
    snaps = Snapshots(tmp_path / "snap")
    original = fake_app.trees()
    take(snaps, fake_app)
    damage = r"""
    cd /data
    echo changed > site/index.html
    rm site/blob.bin
    echo extra > site/extra.txt
    mkdir -p newdir && echo x > newdir/.dot
    chmod 0777 site/sub/.hidden
    chown 1:1 site/link 2>/dev/null || true
    rm site/link && ln -s elsewhere site/link
    """
    for name in fake_app.volumes:
        fake_app.run(name, damage)
    assert fake_app.trees() != original
    snaps.restore(fake_app.app)
    assert fake_app.trees() == original


def test_a_corrupted_snapshot_is_refused_and_the_volume_untouched(tmp_path, fake_app):
    snaps = Snapshots(tmp_path / "snap")
    take(snaps, fake_app)
    fake_app.run(fake_app.volumes[1], "echo after-snapshot > /data/site/index.html")
    before = fake_app.trees()
    tar_path = snaps.current() / f"{fake_app.volumes[1]}.tar"
    data = bytearray(tar_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tar_path.write_bytes(bytes(data))
    with pytest.raises(Corrupt, match="checksum mismatch"):
        snaps.verify()
    with pytest.raises(Corrupt):
        snaps.restore(fake_app.app)
    assert fake_app.trees() == before  # neither volume was touched, not even the intact one
    leftovers = [p.name for v in fake_app.volumes for p in fake_app.mountpoint(v).parent.iterdir()]
    assert all(not name.startswith(".ccci-") for name in leftovers)


def hostile_tar(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        good = tarfile.TarInfo("./ok.txt")
        good.size = 3
        archive.addfile(good, io.BytesIO(b"ok\n"))
        bad = tarfile.TarInfo({"dotdot": "../../../../tmp/ccci-evil", "absolute": "/tmp/ccci-evil",
                               "symlink": "./link", "device": "./dev"}[kind])
        if kind == "symlink":
            bad.type, bad.linkname = tarfile.SYMTYPE, "/etc"
        elif kind == "device":
            bad.type, bad.devmajor, bad.devminor = tarfile.CHRTYPE, 1, 3
        else:
            bad.size = 5
        archive.addfile(bad, io.BytesIO(b"evil\n") if bad.isreg() else None)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "device"])
def test_a_snapshot_with_hostile_members_is_refused(tmp_path, fake_app, kind):
    snaps = Snapshots(tmp_path / "snap")
    take(snaps, fake_app)
    gen = snaps.current()
    # Forge a snapshot whose checksums match its hostile content: only the member check stands.
    payload = hostile_tar(kind)
    meta = json.loads((gen / "meta.json").read_text())
    for entry in meta["volumes"]:
        (gen / entry["file"]).write_bytes(payload)
        entry["size"], entry["sha256"] = len(payload), hashlib.sha256(payload).hexdigest()
    (gen / "meta.json").write_text(json.dumps(meta))
    before = fake_app.trees()
    with pytest.raises(HostileArchive):
        snaps.restore(fake_app.app)
    with pytest.raises(HostileArchive):
        snaps.verify()
    assert fake_app.trees() == before
    assert not Path("/tmp/ccci-evil").exists()


TAKE_SCRIPT = """
import sys
from ccci.seams.engine import connect, Stack
from ccci.capabilities.snapshot import AppVolumes, Snapshots
app = AppVolumes(Stack(connect(), sys.argv[2]))
Snapshots(__import__("pathlib").Path(sys.argv[1])).take(app, recipe="fx-web", version=sys.argv[3], commit="new")
print("done", flush=True)
"""


def test_sigkill_at_many_points_during_take_leaves_the_known_good(tmp_path, docker_client):
    app = FakeApp(docker_client, count=2)
    try:
        app.fill()
        for name in app.volumes:  # enough data that a take lasts a moment
            app.run(name, "head -c 60000000 /dev/urandom > /data/big.bin")
        snaps = Snapshots(tmp_path / "snap")
        good = take(snaps, app)
        began = time.monotonic()
        done = subprocess.run([sys.executable, "-c", TAKE_SCRIPT, str(tmp_path / "timing"), app.stack, "t"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        duration = time.monotonic() - began
        outcomes = []
        for i in range(12):
            delay = duration * (i + 0.5) / 12
            process = subprocess.Popen([sys.executable, "-c", TAKE_SCRIPT, str(tmp_path / "snap"), app.stack, f"9.9.{i}+k"],
                                       stdout=subprocess.PIPE, text=True)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            out, _ = process.communicate()
            meta = snaps.verify()  # whatever happened, current verifies
            outcomes.append(meta.version)
            if meta.version != good.version:  # the take finished before the kill: that is the new known-good
                assert "done" in out or meta.version.startswith("9.9.")
                good = meta
        # Most kills must land mid-take, or the test proves nothing.
        assert outcomes.count(outcomes[0]) >= 6, outcomes
        # The next take cleans what the killed ones left.
        take(snaps, app, "2.0.0+final")
        names = sorted(p.name for p in (tmp_path / "snap").iterdir())
        assert len([n for n in names if n.startswith("gen-")]) == 1 and "current" in names
        assert not [n for n in names if n.startswith(".")]
    finally:
        app.remove()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs with 64 inodes for the snapshot folder; `fill_inodes(n)` leaves n free."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=64", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def fill_inodes(mount: Path, free: int) -> Path:
    filler = mount / "filler"
    filler.mkdir(exist_ok=True)
    i = 0
    while os.statvfs(mount).f_ffree > free:
        (filler / f"f{i}").touch()
        i += 1
    assert os.statvfs(mount).f_ffree == free
    return filler


def only_the_known_good(snaps: Snapshots, good) -> None:
    """`current` verifies as `good`, and nothing else of ccci's is in the snapshot folder."""
    assert snaps.verify() == good
    names = sorted(p.name for p in snaps.root.iterdir())
    assert names == sorted(["current", snaps.current().name]), names


# Steps filled for real: the disk's blocks (a volume's tar) or its inodes (the
# new generation's folder, a tar file, meta.json, the temporary link that
# becomes `current`). The take needs 1 inode for the folder, one per volume,
# one for meta.json, one for the link: leaving fewer fails that step.
PHYSICAL = {
    "creating the new generation": ("inodes", 0),
    "writing volume": ("inodes", 1),
    "writing the snapshot's meta": ("inodes", 2),
    "switching current": ("inodes", 3),
    "writing volume (blocks)": ("blocks", None),
}


@pytest.mark.parametrize("step", sorted(PHYSICAL))
def test_a_take_into_a_full_disk_at_each_step_leaves_the_known_good(small_disk, docker_client, step):
    app = FakeApp(docker_client, count=1)
    try:
        app.run(app.volumes[0], "echo small > /data/a.txt")
        snaps = Snapshots(small_disk / "snap")
        good = take(snaps, app)
        kind, free = PHYSICAL[step]
        if kind == "inodes":
            filler = fill_inodes(small_disk, free)
        else:
            filler = small_disk / "filler"
            app.run(app.volumes[0], "head -c 8000000 /dev/urandom > /data/big.bin")
        with pytest.raises(TakeFailed) as caught:
            take(snaps, app, "2.0.0+big")
        failed = caught.value
        assert failed.errno == errno.ENOSPC
        assert str(failed).startswith(f"take failed while {step.split(' (')[0]}"), failed
        assert str(small_disk / "snap") in str(failed.path) and str(failed.path) in str(failed)
        only_the_known_good(snaps, good)
        subprocess.run(["rm", "-rf", "--", str(filler)], check=True)  # the disk is freed
        app.run(app.volumes[0], "rm -f /data/big.bin; echo next > /data/b.txt")
        newer = take(snaps, app, "3.0.0+freed")
        only_the_known_good(snaps, newer)
        assert newer.version == "3.0.0+freed"
    finally:
        app.remove()


# Steps a full disk cannot fail on tmpfs (a rename, an fsync, the final
# replace of `current`): ENOSPC injected at the system call the step makes.
INJECTED = {
    "syncing the new generation": ("fsync", lambda path: Path(path).name.startswith(".tmp-gen-")),
    "renaming the new generation into place": ("rename", lambda path: Path(path).name.startswith(".tmp-gen-")),
    "switching current": ("replace", lambda path: Path(path).name.startswith(".current-")),
}


@pytest.mark.parametrize("step", sorted(INJECTED))
def test_a_take_that_fails_late_removes_the_generation_it_wrote(tmp_path, fake_app, monkeypatch, step):
    snaps = Snapshots(tmp_path / "snap")
    good = take(snaps, fake_app)
    call, matches = INJECTED[step]

    def no_space(real):
        def call_(path, *args, **kwargs):
            if matches(path):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(path, *args, **kwargs)
        return call_

    if call == "fsync":
        real_fsync_dir = snapshot_mod._fsync_dir
        monkeypatch.setattr(snapshot_mod, "_fsync_dir", no_space(real_fsync_dir))
    else:
        monkeypatch.setattr(os, call, no_space(getattr(os, call)))
    with pytest.raises(TakeFailed, match=f"take failed while {step}") as caught:
        take(snaps, fake_app, "2.0.0+late")
    assert caught.value.errno == errno.ENOSPC
    only_the_known_good(snaps, good)
    monkeypatch.undo()
    only_the_known_good(snaps, take(snaps, fake_app, "3.0.0+after"))


def test_a_take_starts_by_removing_every_generation_that_is_not_current(tmp_path, fake_app):
    snaps = Snapshots(tmp_path / "snap")
    take(snaps, fake_app)
    # What a take killed after its rename (or any older debris) leaves: whole, unused generations.
    stray = shutil.copytree(snaps.current(), snaps.root / "gen-20000101T000000Z-deadbeef")
    (snaps.root / ".tmp-gen-20000101T000000Z-cafe").mkdir()
    os.symlink("gen-x", snaps.root / ".current-1234")
    (snaps.root / "operator-notes.txt").write_text("not ccci's")
    assert sorted(snaps.remove_unused()) == sorted([stray.name, ".tmp-gen-20000101T000000Z-cafe", ".current-1234"])
    assert (snaps.root / "operator-notes.txt").exists()
    (snaps.root / "operator-notes.txt").unlink()
    shutil.copytree(snaps.current(), stray)
    only_the_known_good(snaps, take(snaps, fake_app, "2.0.0+next"))


# -- restore in place: a volume ccci may not swap by rename --------------------------


@attrs.define
class UnswappableVolumes(AppVolumes):
    """The engine's answer for a volume with driver options, on a real volume's folder."""

    def inspect(self, name: str) -> engine.VolumeInfo:
        return attrs.evolve(super().inspect(name), options={"o": "stand-in"})


def test_in_place_restore_makes_the_volume_exactly_the_snapshot(tmp_path, fake_app):
    app = UnswappableVolumes(fake_app.app.stack)
    assert not app.swappable(fake_app.volumes[0])
    snaps = Snapshots(tmp_path / "snap")
    original = fake_app.trees()
    snaps.take(app, recipe="fx-web", version="1", commit="c")
    for name in fake_app.volumes:
        fake_app.run(name, "echo changed > /data/site/index.html; rm -r /data/empty; echo x > /data/extra; chmod 0700 /data")
    snaps.restore(app)
    assert fake_app.trees() == original
    assert not [p for v in fake_app.volumes for p in fake_app.mountpoint(v).iterdir() if p.name.startswith(".ccci-")]


@pytest.mark.parametrize("damage", ["flipped byte", "chain of links"])
def test_in_place_restore_that_fails_touches_no_volume(tmp_path, fake_app, damage):
    app = UnswappableVolumes(fake_app.app.stack)
    snaps = Snapshots(tmp_path / "snap")
    snaps.take(app, recipe="fx-web", version="1", commit="c")
    for name in fake_app.volumes:
        fake_app.run(name, "echo after > /data/site/index.html")
    before = fake_app.trees()
    gen = snaps.current()
    last = f"{fake_app.volumes[-1]}.tar"  # the first volume would pass: it must not be touched either
    if damage == "flipped byte":
        data = bytearray((gen / last).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (gen / last).write_bytes(bytes(data))
        expected = Corrupt
    else:
        forge(gen, {last: chain_escape()})
        expected = HostileArchive
    with pytest.raises(expected):
        snaps.restore(app)
    assert fake_app.trees() == before
    assert not [p for v in fake_app.volumes for p in fake_app.mountpoint(v).iterdir() if p.name.startswith(".ccci-")]


def forge(gen: Path, payloads: dict[str, bytes]) -> None:
    """Replace tars of a generation, with checksums that match: only the member checks stand."""
    meta = json.loads((gen / "meta.json").read_text())
    for entry in meta["volumes"]:
        if entry["file"] in payloads:
            payload = payloads[entry["file"]]
            (gen / entry["file"]).write_bytes(payload)
            entry["size"], entry["sha256"] = len(payload), hashlib.sha256(payload).hexdigest()
    (gen / "meta.json").write_text(json.dumps(meta))


OUTSIDE = Path("/tmp/ccci-hostile-outside")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=archives(str(OUTSIDE)))
def test_generated_hostile_snapshots_are_refused_or_restore_strictly_inside(tmp_path, fake_app, payload):
    OUTSIDE.mkdir(exist_ok=True)
    (OUTSIDE / VICTIM).write_text("untouched\n")
    snaps = Snapshots(tmp_path / "snap")
    if snaps.current() is None:
        take(snaps, fake_app)
    gen = snaps.current()
    forge(gen, {f"{fake_app.volumes[0]}.tar": payload})
    files = {p.name: p.read_bytes() for p in gen.iterdir()}
    before = fake_app.trees()
    try:
        snaps.verify()
        verified = True
    except (Corrupt, HostileArchive):
        verified = False
    try:
        snaps.restore(fake_app.app)
    except (Corrupt, HostileArchive, CommandError):
        assert fake_app.trees() == before  # refused: no volume touched
    else:
        assert verified, "restore accepted what verify refused"
        mountpoint = fake_app.mountpoint(fake_app.volumes[0])
        real = os.path.realpath(mountpoint)
        for dirpath, dirnames, filenames in os.walk(mountpoint):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                resolved = os.path.realpath(path)
                assert resolved == real or resolved.startswith(real + os.sep), (path, resolved)
    assert sorted(p.name for p in OUTSIDE.iterdir()) == [VICTIM]
    assert (OUTSIDE / VICTIM).read_text() == "untouched\n" and (OUTSIDE / VICTIM).stat().st_nlink == 1
    assert {p.name: p.read_bytes() for p in gen.iterdir()} == files  # the snapshot itself is never written


# -- a take over a PR's leftovers --------------------------------------------------


def test_a_take_over_used_volumes_needs_the_flag(warm, docker_client):
    stack = warm.warm_stack()
    docker_client.volumes.create(f"{stack}_data", labels={engine.NAMESPACE: stack})
    warm.canonical_dir.mkdir(parents=True)
    record = {"recipe": "fx-web", "domain": f"warm-fx-web.{warm.base}", "version": "1.0.0+1.35.0",
              "commit": "c0ffee", "status": "idle", "volumes": "used", "updated": "2000-01-01T00:00:00Z"}
    (warm.canonical_dir / "canonical.json").write_text(json.dumps(record))
    code, result, err = warm.run("snapshot", "take", "fx-web")
    assert code == 2 and result == {}, err
    assert "ccci-snapshot restore fx-web" in err and "--accept-used-volumes" in err
    assert warm.record() == record and not (warm.canonical_dir / "snapshot").exists()
    code, result, err = warm.run("snapshot", "take", "fx-web", "--accept-used-volumes")
    assert code == 0 and result["action"] == "take" and result["version"] == "1.0.0+1.35.0", err
    assert warm.record()["volumes"] == "known-good"
