"""The bed's own scripts: Keycloak is lazy (setup makes it ready, only
`start` runs it), and `stop` removes its bed and nothing else.

Each Keycloak test uses a private bed (its own CCCI_TESTBED and port, the shared
bed's cached dist linked in), so the shared Keycloak is never touched: after
`setup` no Keycloak process runs and nothing listens on its port; `start`
brings it up and is a no-op the second time; `stop` ends it, is a no-op the
second time, and never kills a process that is not this bed's Keycloak.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from ccci.seams import engine
from tests.fixtures.keycloak import BED

pytestmark = pytest.mark.integration

BED_SCRIPTS = Path(__file__).resolve().parents[1] / "bed"
KEYCLOAK = BED_SCRIPTS / "keycloak"
VERSION = (KEYCLOAK / "version").read_text().strip()


def free_port_pair() -> int:
    """A port p with p and p + 10 (Keycloak's management port) both free."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10 < 65536 and not listening(port) and not listening(port + 10):
            return port
    raise AssertionError("no free port pair")


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def keycloak_processes(root: Path) -> list[int]:
    """Pids whose command line names this private bed's dist."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"-Dkc.home.dir={root}/keycloak/dist/" in argv:
            found.append(int(proc.name))
    return found


class PrivateBed:
    def __init__(self, root: Path):
        self.root = root
        self.port = free_port_pair()
        self.env = {**os.environ, "CCCI_TESTBED": str(root), "CCCI_KEYCLOAK_PORT": str(self.port)}
        cached = BED / "keycloak" / "cache" / f"keycloak-quarkus-dist-{VERSION}.zip"
        if not cached.is_file():
            pytest.fail(f"no cached Keycloak dist at {cached}: run tests/bed/setup first")
        (root / "keycloak" / "cache").mkdir(parents=True)
        (root / "keycloak" / "cache" / cached.name).symlink_to(cached)

    def run(self, script: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([str(KEYCLOAK / script)], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def answers(self) -> bool:
        url = f"http://127.0.0.1:{self.port}/realms/master/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                return reply.status == 200
        except OSError:
            return False

    @property
    def pid_file(self) -> Path:
        return self.root / "keycloak" / "keycloak.pid"


@pytest.fixture
def private_bed(tmp_path_factory):
    root = tmp_path_factory.mktemp("bed")
    bed = PrivateBed(root)
    try:
        yield bed
    finally:
        bed.run("stop", timeout=120)
        for pid in keycloak_processes(root):  # stop failed: do not leave a JVM behind
            os.kill(pid, 9)
        shutil.rmtree(root, ignore_errors=True)


def test_setup_readies_keycloak_without_starting_it_and_start_and_stop_are_idempotent(private_bed):
    done = private_bed.run("setup")
    assert done.returncode == 0, done.stderr
    settings = json.loads((private_bed.root / "keycloak" / "settings.json").read_text())
    assert settings["url"] == f"http://127.0.0.1:{private_bed.port}"
    assert (private_bed.root / "keycloak" / "dist" / f"keycloak-{VERSION}" / "bin" / "kc.sh").is_file()
    # Lazy: ready, but nothing runs and nothing listens.
    assert keycloak_processes(private_bed.root) == []
    assert not private_bed.pid_file.exists()
    assert not listening(private_bed.port)
    again = private_bed.run("setup")
    assert again.returncode == 0 and again.stderr == "" and again.stdout == ""
    assert keycloak_processes(private_bed.root) == []

    started = private_bed.run("start")
    assert started.returncode == 0, started.stderr
    assert private_bed.answers()
    pid = int(private_bed.pid_file.read_text())
    assert keycloak_processes(private_bed.root) == [pid]

    began = time.monotonic()
    second = private_bed.run("start")
    assert second.returncode == 0 and second.stderr == "", second.stderr
    assert time.monotonic() - began < 30  # answered at once: no second JVM, no wait
    assert int(private_bed.pid_file.read_text()) == pid
    assert keycloak_processes(private_bed.root) == [pid]

    stopped = private_bed.run("stop", timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert keycloak_processes(private_bed.root) == [] and not private_bed.pid_file.exists()
    assert not listening(private_bed.port)
    quiet = private_bed.run("stop")
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.parametrize("pid_text", ["", "not-a-pid", "999999999", None])
def test_stop_never_kills_a_process_that_is_not_this_beds_keycloak(private_bed, pid_text):
    (private_bed.root / "keycloak").mkdir(exist_ok=True)
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        # A stale pid file that names a live stranger (a reused pid), or junk.
        private_bed.pid_file.write_text(f"{stranger.pid if pid_text is None else pid_text}\n")
        done = private_bed.run("stop", timeout=60)
        assert done.returncode == 0, done.stderr
        assert stranger.poll() is None, "stop killed a process that is not Keycloak"
        assert not private_bed.pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_removes_its_beds_stacks_and_state_and_nothing_else(tmp_path_factory, docker_client):
    """A private bed (no `made` record: setup made nothing on the engine for it)
    in its own base domain: stop removes that domain's stacks and the bed's
    folder; the shared bed's images, proxy network, swarm and other stacks stay."""
    root = tmp_path_factory.mktemp("stopbed") / "bed"
    (root / "keycloak").mkdir(parents=True)
    base = f"s{secrets.token_hex(3)}.ccci.test"
    (root / "config.json").write_text(json.dumps({"base_domain": base}))
    ours = [f"app_{base.replace('.', '_')}", f"warm-x_{base.replace('.', '_')}"]
    other = f"app_o{secrets.token_hex(3)}_ccci_test"  # another bed's (or test's) stack
    api = docker_client.api
    for stack in [*ours, other]:
        api.create_volume(f"{stack}_data", labels={engine.NAMESPACE: stack})
        api.create_secret(f"{stack}_db_password_v1", b"s3cret")
    images_before = sorted(i.id for i in docker_client.images.list(name="ccci-fixture/*"))
    env = {**os.environ, "CCCI_TESTBED": str(root)}
    try:
        done = subprocess.run([str(BED_SCRIPTS / "stop")], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        for stack in ours:
            assert engine.Stack(docker_client, stack).leftovers() == {}, stack
            assert not [s for s in api.secrets() if s["Spec"]["Name"].startswith(stack + "_")]
        assert not root.exists()
        # Nothing else: the other stack, the shared images, network, swarm and default config.
        assert engine.Stack(docker_client, other).leftovers() != {}
        assert sorted(i.id for i in docker_client.images.list(name="ccci-fixture/*")) == images_before
        assert api.networks(names=["proxy"])
        assert api.services(filters={"name": "backupbot"}), "a private bed's stop removed the shared backupbot"
        assert docker_client.info()["Swarm"]["LocalNodeState"] == "active"
        again = subprocess.run([str(BED_SCRIPTS / "stop")], env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "nothing to stop" in again.stderr
    finally:
        for stack in [*ours, other]:
            engine.Stack(docker_client, stack).remove_leftovers()
