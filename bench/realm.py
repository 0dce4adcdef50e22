"""Benchmark: a per-run realm on the warm Keycloak against a cold Keycloak.

    python3 bench/realm.py [--rounds N]       (default 5)

Needs the test bed (tests/bed/setup). Starts the bed's Keycloak if it is not
running (tests/bed/keycloak/start, not timed) and stops it again at the end
if it started it. In one run it measures

* realm: `realms.lease` in (create realm + client + user, read discovery),
  one OIDC password grant, lease out (delete, check it is gone), N times;
* cold: a second Keycloak of the same version, unpacked from the bed's
  cached dist into a temporary folder (not timed), started with
  `kc.sh start-dev` on other loopback ports: seconds from the process start
  to the first 200 from its master realm's discovery URL; then stopped.

and prints the ratio cold / realm: how many per-run realms fit in the time
one run would spend bringing up its own Keycloak. Leaves nothing behind:
each realm is deleted by its lease, the second Keycloak and its folder are
removed, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccci.pure import config as config_mod  # noqa: E402
from ccci.capabilities import realms  # noqa: E402
from ccci.seams.keycloak import Keycloak  # noqa: E402
from ccci.pure.names import RunId  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BED = Path(os.environ.get("CCCI_TESTBED", "/var/lib/ccci-testbed"))
JAVAS = ("/usr/lib/jvm/java-21-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-amd64")


def realm_cycle(settings: config_mod.KeycloakSettings) -> float:
    began = time.monotonic()
    with realms.lease(settings, "bench", RunId.new()) as held:
        Keycloak(settings).password_grant(
            held.realm.value, held.client_id, held.client_secret, held.username, held.password
        )
    return time.monotonic() - began


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def cold_keycloak(version: str, limit: float = 600) -> float:
    zip_path = BED / "keycloak" / "cache" / f"keycloak-quarkus-dist-{version}.zip"
    if not zip_path.is_file():
        raise SystemExit(f"bench: no cached dist at {zip_path}: run tests/bed/setup first")
    java_home = next((j for j in JAVAS if Path(j, "bin/java").exists()), None)
    if java_home is None:
        raise SystemExit("bench: no Java 17 or 21 for Keycloak")
    work = Path(tempfile.mkdtemp(prefix="ccci-bench-kc-"))
    process = None
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(work)
        home = work / f"keycloak-{version}"
        for script in (home / "bin").glob("*.sh"):
            script.chmod(0o755)
        port, management = free_port(), free_port()
        url = f"http://127.0.0.1:{port}/realms/master/.well-known/openid-configuration"
        env = {
            **os.environ,
            "JAVA_HOME": java_home,
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        }
        argv = [str(home / "bin/kc.sh"), "start-dev", "--http-host=127.0.0.1",
                f"--http-port={port}", f"--http-management-port={management}"]
        log = (work / "keycloak.log").open("wb")
        began = time.monotonic()
        process = subprocess.Popen(argv, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        while not answers(url):
            if process.poll() is not None or time.monotonic() - began > limit:
                tail = (work / "keycloak.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"bench: the cold Keycloak did not come up:\n{tail}")
            time.sleep(0.2)
        return time.monotonic() - began
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    settings = config_mod.CONVERTER.structure(
        json.loads((BED / "keycloak" / "settings.json").read_text()), config_mod.KeycloakSettings
    )
    was_running = answers(f"{settings.url}/realms/master/.well-known/openid-configuration")
    if not was_running:
        subprocess.run([str(REPO / "tests/bed/keycloak/start")], check=True)
    try:
        return measure(settings, args.rounds)
    finally:
        if not was_running:
            subprocess.run([str(REPO / "tests/bed/keycloak/stop")], check=False)


def measure(settings: config_mod.KeycloakSettings, rounds: int) -> int:
    realms.preflight(settings)
    version = (REPO / "tests/bed/keycloak/version").read_text().strip()
    cycles = [realm_cycle(settings) for _ in range(rounds)]
    print(f"per-run realm (lease + grant + release), {rounds} rounds: "
          f"median {statistics.median(cycles):.2f}s, min {min(cycles):.2f}s, max {max(cycles):.2f}s")
    cold = cold_keycloak(version)
    print(f"cold Keycloak {version} (process start to first 200 on discovery): {cold:.2f}s")
    ratio = cold / statistics.median(cycles)
    print(f"ratio cold / realm: {ratio:.1f}x (a per-run realm costs "
          f"{100 / ratio:.1f}% of bringing up a Keycloak, before any realm exists on it)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
