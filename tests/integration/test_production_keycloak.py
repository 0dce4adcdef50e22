"""The production-shaped keycloak recipe on the real swarm: Keycloak on PostgreSQL.

tests/bed/recipes/keycloak is shaped like Co-op Cloud's recipe (secrets, a
database dumped by backupbot's pre-hook and loaded by its post-hook, the
app's own health checks, two Keycloak versions whose upgrade migrates the
schema, a broken release with the wrong database password). Its images are
built on the bed (tests/bed/images/postgres, tests/bed/images/keycloak),
once: the fixture below is quiet when they are already there.

Proven the way the seed's adversary did: a cold run goes green through
every stage and leaves nothing; a realm and a user in the known-good survive
a passing --quick untouched in the snapshot (although the PASS migrated the
canonical's database to the newer Keycloak), and after a failing --quick the
database is the known-good's again, compared by a dump, and serves on the
known-good version. Keycloak starts in one to two minutes on 2 cores: this
module takes a while.

Every app is reached as production reaches it: through the bed's front door
(traefik on 443, tests/fixtures/production.py) by its domain, TLS verified
against the bed's CA; the recipe publishes no port.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from ccci.capabilities.health import Endpoint, endpoint, utc_stamp, wait_converged, wait_http
from ccci.entry.common import load_config
from ccci.pure.names import Domain, RecipeName, stack_name, warm_domain
from ccci.seams import engine, http, proc
from ccci.seams.abra import Abra
from tests.fixtures.volumes import tree
from tests.fixtures.warm import Warm
from tests.integration.test_cold_run import assert_nothing_left, ccci_run

pytestmark = pytest.mark.integration

BED_SRC = Path(__file__).resolve().parents[1] / "bed"
OLD, NEW = "10.5.0+26.5.6", "10.6.0+26.7.3"
BROKEN = "broken/wrong-db-password"
START = 600  # seconds: a Keycloak start on a busy 2-core machine, generously


@pytest.fixture(scope="session")
def keycloak_images():
    """The recipe's images (its manifest's `images`), built once per version; quiet when built."""
    done = subprocess.run([str(BED_SRC / "images" / "recipes"), "keycloak"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


class KeycloakBed(Warm):
    """A config of its own: state in tmp, the front door's reach (its base
    domain, ingress and CA), the recipe built from the tree."""

    recipe = "keycloak"

    def __init__(self, front_door, tmp_path: Path, *, canonical: bool):
        self.base = front_door.base
        self.repos = tmp_path / "recipes"
        self.state = tmp_path / "state"
        subprocess.run([str(BED_SRC / "recipes" / "build"), str(self.repos), "keycloak"],
                       check=True, capture_output=True)
        data = json.loads(front_door.config_path.read_text())
        data.update(
            state_dir=str(self.state), recipe_source=f"file://{self.repos}/{{recipe}}",
            recipes={"keycloak": {"canonical": canonical}}, infra={},
        )
        data["timeouts"] = {**data.get("timeouts", {}), "converge": START, "http": 120, "abra": 900, "tests": 600}
        self.path = tmp_path / "config.json"
        self.path.write_text(json.dumps(data))
        self.config = load_config(self.path)
        self.domain = warm_domain(RecipeName("keycloak"), Domain(self.base))

    def endpoint(self, stack: engine.Stack) -> Endpoint:
        """Where the deployed app answers: through the front door by its domain."""
        return endpoint(stack, self.domain, self.config.ingress, self.config.ca_certificates)

    def run(self, script: str, *args: str, timeout: float = 2400) -> tuple[int, dict, str]:
        return super().run(script, *args, timeout=timeout)

    def abra(self) -> Abra:
        return Abra.from_config(self.config, self.canonical_dir / "abra", proc.Calls())


@pytest.fixture
def cold_bed(front_door, tmp_path, keycloak_images, swarm_lock):
    return KeycloakBed(front_door, tmp_path, canonical=False)


@pytest.fixture
def warm_bed(front_door, tmp_path, keycloak_images, swarm_lock, docker_client):
    bed = KeycloakBed(front_door, tmp_path, canonical=True)
    yield bed
    engine.Stack(docker_client, bed.warm_stack()).remove_leftovers()


def stage_map(result: dict) -> dict[str, dict]:
    return {stage["name"]: stage for stage in result["stages"]}


def test_a_cold_run_of_keycloak_is_green_through_every_stage_and_leaves_nothing(cold_bed, docker_client):
    code, result, err = cold_bed.run("run", "keycloak")
    assert code == 0, err[-3000:]
    assert result["status"] == "passed" and result["mode"] == "cold"
    assert [s["name"] for s in result["stages"]] == ["install", "upgrade", "backup", "restore", "custom"]
    assert all(s["status"] == "passed" for s in result["stages"]), result["stages"]
    assert result["from_version"] == OLD and result["to_version"] == NEW
    custom = stage_map(result)["custom"]["tests"]
    assert "custom-recipe: 1 passed" in custom, custom
    # backupbot's hooks ran in the db service and succeeded: the database was
    # dumped before the backup and loaded back after the restore.
    calls = {p.name: p.read_text(errors="replace") for p in (Path(result["artifacts"]) / "calls").iterdir()}
    backup = "".join(text for name, text in calls.items() if name.endswith("-app-backup-create.log"))
    restore = "".join(text for name, text in calls.items() if name.endswith("-app-restore.log"))
    assert "/pg_backup.sh backup" in backup, sorted(calls)
    assert "/pg_backup.sh restore" in restore, sorted(calls)
    assert_nothing_left(docker_client, cold_bed.config, result)


# -- the warm canonical ------------------------------------------------------------------


def promote_at_old(bed: KeycloakBed) -> None:
    """A canonical at the older release: the repo's newest release is OLD for a moment."""
    new_commit = bed.git("rev-list", "-n1", NEW)
    bed.git("tag", "-d", NEW)
    code, result, err = bed.run("run", "keycloak")
    assert code == 0 and result["promotion"] == f"promoted {OLD}", err[-3000:]
    bed.git("tag", "-a", NEW, new_commit, "-m", NEW)  # upstream releases NEW


def postgres_volume(bed: KeycloakBed) -> str:
    return f"{bed.warm_stack()}_postgres"


def stable(text: str) -> str:
    """A dump without pg_dump's per-dump random `\\restrict KEY` / `\\unrestrict KEY` lines
    (PostgreSQL 15.14+): what is left is the database."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(("\\restrict ", "\\unrestrict ")))


def dump(client, volume: str) -> str:
    """pg_dump of the keycloak database kept in `volume`, by a throwaway
    PostgreSQL without a network, while the app is undeployed."""
    name = f"ccci-dump-{secrets.token_hex(4)}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "none",
                    "-v", f"{volume}:/var/lib/postgresql/data", "ccci-bed/postgres:15"],
                   check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "exec", name, "pg_isready", "-q", "-U", "keycloak"]).returncode != 0:
            assert time.monotonic() < deadline, "the dump's PostgreSQL did not start"
            time.sleep(0.5)
        done = subprocess.run(["docker", "exec", name, "pg_dump", "-U", "keycloak", "keycloak"],
                              capture_output=True, text=True, check=True)
        return stable(done.stdout)
    finally:
        subprocess.run(["docker", "stop", "-t", "30", name], capture_output=True)
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)


class Admin:
    """Keycloak's admin REST API of the deployed canonical, through its ingress."""

    def __init__(self, endpoint: Endpoint, password: str):
        self.endpoint = endpoint
        form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli",
                                       "username": "admin", "password": password}).encode()
        self.token = json.loads(self.call("POST", "/realms/master/protocol/openid-connect/token", form,
                                          "application/x-www-form-urlencoded"))["access_token"]

    def call(self, method: str, path: str, body: bytes | None = None, kind: str = "application/json") -> str:
        headers = {"Host": self.endpoint.host, "Content-Type": kind}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        reply = http.call(method, self.endpoint.url + path, body=body, headers=headers, timeout=30,
                          connect_to=self.endpoint.connect_to, ca_file=self.endpoint.ca_file)
        assert 200 <= reply.status < 300, (method, path, reply.status, reply.body[:300])
        return reply.body.decode()

    def create(self, path: str, what: dict) -> None:
        self.call("POST", path, json.dumps(what).encode())


def deploy_canonical(bed: KeycloakBed, client) -> tuple[engine.Stack, Endpoint]:
    stack = engine.Stack(client, bed.warm_stack())
    since = utc_stamp()
    bed.abra().deploy(bed.domain, bed.record()["version"], force=True)
    wait_converged(stack, START, started_iso=since)
    reach = bed.endpoint(stack)
    wait_http(reach, 120)
    return stack, reach


def undeploy_canonical(bed: KeycloakBed, stack: engine.Stack) -> None:
    bed.abra().undeploy(bed.domain)
    assert stack.wait_gone(120)


def test_quick_keeps_the_known_good_database_exactly(warm_bed, docker_client):
    promote_at_old(warm_bed)
    realm, user = f"kept-{secrets.token_hex(3)}", f"user-{secrets.token_hex(3)}"
    # A realm and a user in the canonical, then that is the known-good.
    stack, endpoint = deploy_canonical(warm_bed, docker_client)
    try:
        admin = Admin(endpoint, stack.exec("app", ["cat", "/run/secrets/admin_password"]).strip())
        admin.create("/admin/realms", {"realm": realm, "enabled": True})
        admin.create(f"/admin/realms/{realm}/users", {"username": user, "enabled": True})
    finally:
        undeploy_canonical(warm_bed, stack)
    known = dump(docker_client, postgres_volume(warm_bed))
    assert realm in known and user in known
    code, _, err = warm_bed.run("snapshot", "take", "keycloak")
    assert code == 0, err[-2000:]
    volume = postgres_volume(warm_bed)
    known_tree = tree(Path(docker_client.api.inspect_volume(volume)["Mountpoint"]))
    before = warm_bed.snapshot_bytes()

    # PASS: the upgrade migrates the canonical's database; the known-good is untouched.
    code, result, err = warm_bed.run("quick", "keycloak", NEW)
    assert code == 0, err[-3000:]
    assert result["mode"] == "quick" and result["status"] == "passed"
    assert result["from_version"] == OLD and result["to_version"] == NEW
    assert warm_bed.snapshot_bytes() == before  # byte-identical
    assert warm_bed.record()["version"] == OLD
    migrated = dump(docker_client, volume)  # the used volume, as the PASS left it
    assert "26.7.3" in migrated and "26.7.3" not in known, "the upgrade ran no migration"
    assert realm in migrated and user in migrated  # the migration kept them

    # FAIL: the broken release never turns healthy; the known-good comes back exactly.
    code, result, err = warm_bed.run("quick", "keycloak", BROKEN)
    assert code == 1 and result["status"] == "failed" and result["mode"] == "quick", err[-3000:]
    assert result["note"] == "known-good restored and verified"
    assert tree(Path(docker_client.api.inspect_volume(volume)["Mountpoint"])) == known_tree
    assert warm_bed.snapshot_bytes() == before and warm_bed.record()["version"] == OLD
    assert dump(docker_client, volume) == known  # the database, compared by a dump

    # And it serves on the known-good version, realm and all.
    stack, endpoint = deploy_canonical(warm_bed, docker_client)
    try:
        images = {stack.short_name(s): s.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
                  for s in stack.services()}
        assert images["app"].startswith("ccci-bed/keycloak:26.5.6"), images
        status, body = endpoint.get(f"/realms/{realm}/.well-known/openid-configuration")
        assert status == 200 and json.loads(body)["issuer"] == f"https://{warm_bed.domain.value}/realms/{realm}"
    finally:
        undeploy_canonical(warm_bed, stack)


# -- the reconciler's stateful path ------------------------------------------------------


class KeycloakInfra(KeycloakBed):
    """keycloak as warm infrastructure (stateful) at `sso-<8 hex>.<base>`, gated by its own OIDC document."""

    def __init__(self, front_door, tmp_path: Path):
        super().__init__(front_door, tmp_path, canonical=False)
        data = json.loads(self.path.read_text())
        health = {"path": "/realms/master/.well-known/openid-configuration", "status": [200],
                  "contains": "issuer", "window": 0, "samples": 3, "poll": 2.0}
        # Eight hex digits: `<name>-<6 hex>` is a cold run's stack, which any run on the bed reaps.
        self.domain = Domain(f"sso-{secrets.token_hex(4)}.{self.base}")
        data.update(recipes={}, infra={"sso": {"recipe": "keycloak", "domain": self.domain.value,
                                               "stateful": True, "health": health}})
        self.path.write_text(json.dumps(data))
        self.config = load_config(self.path)

    def warm_stack(self) -> str:
        return stack_name(self.domain)

    def reconcile(self, *args: str) -> tuple[int, dict, str]:
        return self.run("reconcile", "sso", *args)

    def last_good(self) -> str:
        return (self.state / "infra" / "sso" / "last_good").read_text().strip()

    def stack(self, client) -> engine.Stack:
        return engine.Stack(client, self.warm_stack())

    def database(self, client) -> str:
        """pg_dump of the running database."""
        return stable(self.stack(client).exec("db", ["pg_dump", "-U", "keycloak", "keycloak"]))


@pytest.fixture(scope="module")
def warm_sso(front_door, tmp_path_factory, keycloak_images, docker_client):
    """keycloak as warm infra behind the front door, kept for the module: the
    reconciler's proof installs and rolls it, the OIDC login then uses it as
    it was left (healthy on its last good) instead of waiting for another
    Keycloak start and health gate."""
    bed = KeycloakInfra(front_door, tmp_path_factory.mktemp("sso"))
    yield bed
    bed.stack(docker_client).remove_leftovers()


@pytest.fixture
def infra_bed(warm_sso, swarm_lock, docker_client):
    assert not warm_sso.stack(docker_client).services(), "the reconciler's proof starts from nothing"
    return warm_sso


def test_the_reconciler_migrates_keycloak_and_rolls_a_broken_release_back_to_its_database(infra_bed, docker_client):
    bed = infra_bed
    new_commit = bed.git("rev-list", "-n1", NEW)
    bed.git("tag", "-d", NEW)
    code, result, err = bed.reconcile()
    assert code == 0 and result["outcome"] == "installed" and bed.last_good() == OLD, err[-3000:]
    bed.git("tag", "-a", NEW, new_commit, "-m", NEW)  # upstream releases NEW
    realm, user = f"kept-{secrets.token_hex(3)}", f"user-{secrets.token_hex(3)}"
    admin = Admin(bed.endpoint(bed.stack(docker_client)),
                  bed.stack(docker_client).exec("app", ["cat", "/run/secrets/admin_password"]).strip())
    admin.create("/admin/realms", {"realm": realm, "enabled": True})
    admin.create(f"/admin/realms/{realm}/users", {"username": user, "enabled": True})
    assert "26.7.3" not in bed.database(docker_client)

    # The upgrade migrates the schema and commits.
    code, result, err = bed.reconcile()
    assert code == 0 and result["outcome"] == "upgraded", err[-3000:]
    assert bed.last_good() == NEW == result["running"]
    assert "snapshot" in result["steps"], result["steps"]  # taken while undeployed, before the deploy
    migrated = bed.database(docker_client)
    assert "26.7.3" in migrated and realm in migrated and user in migrated

    # The broken release never turns healthy: the snapshot taken before it is
    # restored and the prior release redeployed, on the pre-upgrade database.
    bed.git("tag", "-a", "10.7.0+26.7.3", bed.git("rev-parse", f"{BROKEN}^{{commit}}"), "-m", "broken")
    code, result, err = bed.reconcile()
    assert code == 4 and result["outcome"] == "rolled-back" and result["recovered"] is True, err[-3000:]
    assert "restore snapshot" in result["steps"], result["steps"]
    assert bed.last_good() == NEW == result["running"]
    attempt, rollback = result["health"]
    assert attempt["version"] == "10.7.0+26.7.3" and attempt["verdict"] != "healthy"
    assert rollback["version"] == NEW and rollback["verdict"] == "healthy"
    assert bed.database(docker_client) == migrated
    status, body = bed.endpoint(bed.stack(docker_client)).get(f"/realms/{realm}/.well-known/openid-configuration")
    assert status == 200 and json.loads(body)["issuer"] == f"https://{bed.domain.value}/realms/{realm}"


# -- an app that logs its user in through the warm Keycloak -------------------------------

OIDC_SITE = "oidc-site"


@pytest.fixture(scope="module")
def oidc_site_images():
    done = subprocess.run([str(BED_SRC / "images" / "recipes"), OIDC_SITE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_an_app_logs_its_user_in_through_the_warm_keycloak_in_a_real_browser(
        warm_sso, front_door, oidc_site_images, swarm_lock, tmp_path, docker_client):
    """A cold run of oidc-site (Apache's mod_auth_openidc) against the warm
    Keycloak behind the front door: ccci leases the run's realm through the
    front door, writes its issuer and client into the app's env, and the
    recipe's own test logs the realm's user in with Chromium (TLS verified
    against the bed's CA): Keycloak's login page, the credentials, the
    redirect back, the app's page naming the user."""
    sso = warm_sso
    if not sso.stack(docker_client).services():  # run alone: install it first
        code, result, err = sso.reconcile()
        assert code == 0 and result["outcome"] == "installed", err[-3000:]
    admin_password = sso.stack(docker_client).exec("app", ["cat", "/run/secrets/admin_password"]).strip()
    password_file = tmp_path / "keycloak-admin"
    password_file.write_text(admin_password + "\n")
    repos = tmp_path / "recipes"
    subprocess.run([str(BED_SRC / "recipes" / "build"), str(repos), OIDC_SITE], check=True, capture_output=True)
    path = front_door.config(
        tmp_path, recipe_source=f"file://{repos}/{{recipe}}",
        infra=json.loads(sso.path.read_text())["infra"],  # as on a CI host: the warm Keycloak is infra
        keycloak={"url": f"https://{sso.domain.value}", "admin_password_file": str(password_file)},
        recipes={OIDC_SITE: {
            "needs": ["keycloak"],
            # The bed's overlay: the Keycloak's name resolves to the host's front door inside the
            # container, and the bed's CA is trusted there (a real server has DNS and a public CA).
            "env": {"COMPOSE_FILE": "compose.yml:compose.bed.yml", "BED_CA_FILE": str(front_door.ca)},
            "sso_env": {"OIDC_ISSUER": "CCCI_OIDC_ISSUER", "OIDC_CLIENT_ID": "CCCI_OIDC_CLIENT_ID",
                        "OIDC_CLIENT_SECRET": "CCCI_OIDC_CLIENT_SECRET", "SSO_HOST": "CCCI_KEYCLOAK_HOST"},
        }},
    )
    done = ccci_run(path, OIDC_SITE, "--stages", "install,custom")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    custom = stage_map(result)["custom"]["tests"]
    assert "custom-recipe: " in custom and "custom-recipe: 0 passed" not in custom, custom
    realm = f"{OIDC_SITE}-{result['run_id']}"
    assert f"realm {realm}: created" in done.stderr and f"realm {realm}: deleted" in done.stderr
    shots = sorted((Path(result["artifacts"]) / "tests" / "custom-files").glob("*.png"))
    assert len(shots) >= 2, shots  # the login page and the logged-in page, kept with the run
    print(f"\noidc-site screenshots: {[str(p) for p in shots]}")
    transcripts = "".join(p.read_text(errors="replace") for p in (Path(result["artifacts"]) / "calls").iterdir())
    assert admin_password not in transcripts + done.stdout + done.stderr
    # The realm is gone from the warm Keycloak, which keeps serving.
    admin = Admin(sso.endpoint(sso.stack(docker_client)), admin_password)
    assert realm not in {r["realm"] for r in json.loads(admin.call("GET", "/admin/realms"))}
    assert_nothing_left(docker_client, load_config(path), result)
