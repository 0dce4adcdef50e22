"""Snapshots on real volumes: the known-good is never lost, restore is exact or nothing.

Each test breaks something on purpose (a running app, a flipped byte, a
hostile member, SIGKILL mid-take, a full disk) and then shows the previous
known-good is intact and verifies, and the volume is as it was.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from ccci.seams import engine
from ccci.capabilities.snapshot import AppRunning, Corrupt, HostileArchive, NoSnapshot, Snapshots
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
    import hashlib

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


def test_a_take_into_a_full_disk_leaves_the_known_good(tmp_path, docker_client):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    app = FakeApp(docker_client, count=1)
    try:
        app.run(app.volumes[0], "echo small > /data/a.txt")
        snaps = Snapshots(mount / "snap")
        good = take(snaps, app)
        app.run(app.volumes[0], "head -c 8000000 /dev/urandom > /data/big.bin")
        with pytest.raises((OSError, Exception)) as caught:
            take(snaps, app, "2.0.0+big")
        assert "No space left" in str(caught.value) or getattr(caught.value, "errno", None) == 28
        assert snaps.verify() == good
        assert [p.name for p in (mount / "snap").iterdir() if p.name.startswith(".")] == []
    finally:
        app.remove()
        subprocess.run(["umount", str(mount)], check=False)
