"""The status page in a real browser, over pages rendered from real runs on the bed.

One state directory gets, through the real executables: a green cold run of
fx-web (which promotes its canonical), a quick run at a broken ref (red; the
known-good is restored), a red cold run at the same broken ref, and a held
reconcile of the warm proxy (a major release appeared; reconciled twice, the
page says since the first). The red run is named by `--run-id` as the bridge
names the runs it asks CI for. ccci-status renders
it; Debian's chromium, headless, driven by Playwright for Python, looks at
it the way a person would. Screenshots go to `<this test's tmp dir>/screenshots/`
(pytest keeps the last three runs under /tmp/pytest-of-<user>/); the test
prints the folder.

Playwright is pointed at /usr/bin/chromium (`apt-get install chromium`); it
never downloads a browser.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from ccci.capabilities import status_page
from ccci.capabilities.canonical import Verified
from ccci.capabilities.infra_state import InfraState
from ccci.entry.common import load_config
from ccci.pure import config as config_mod
from ccci.pure.names import Domain, RecipeName, stack_name, warm_domain
from ccci.seams import engine
from tests.fixtures.infra import TOKEN

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
PROXY_NEW = "1.1.0+v2.10.1"
BROKEN = "broken/unhealthy"
RED = "rgb(180, 35, 24)"  # --red in the page's CSS


def shown(stamp: str) -> str:
    """A stamp ccci records (`2027-01-15T08:00:00[.ffffff][Z]`) as the page shows it."""
    return stamp[:19].replace("T", " ") + "Z"


def ccci(script: str, config: Path, *args: str) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "-m", f"ccci.entry.{script}", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    result = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, result, done.stderr


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: apt-get install chromium (tests/bed/setup installs it)")
    with sync_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def bed(infra, bed_config, tmp_path, docker_client):
    """The infra fixture's state dir, with fx-web enrolled (canonical) and a status page."""
    source = bed_config.recipe_source.replace("file://", "").replace("{recipe}", "fx-web")
    subprocess.run(["git", "clone", "--quiet", "--mirror", source, str(infra.repos / "fx-web")], check=True)
    data = json.loads(config_mod.dump(infra.config))
    data.update(recipes={"fx-web": {"canonical": True}}, status_page={"dir": str(tmp_path / "site")})
    path = tmp_path / "runs-config.json"
    path.write_text(json.dumps(data))
    yield path
    canonical = warm_domain(RecipeName("fx-web"), Domain(infra.base))
    engine.Stack(docker_client, stack_name(canonical)).remove_leftovers()


def test_a_person_sees_green_red_rolled_back_and_held(infra, bed, browser, tmp_path, docker_client):
    code, green, err = ccci("run", bed, "fx-web")
    assert code == 0 and green["promotion"].startswith("promoted"), err[-2000:]
    code, quick, err = ccci("quick", bed, "fx-web", BROKEN)
    assert code == 1 and quick["mode"] == "quick" and quick["status"] == "failed", err[-2000:]
    chosen = secrets.token_hex(3)  # as the bridge does: the run id it passed to CI as RUN_ID
    code, red, err = ccci("run", bed, "fx-web", "--ref", BROKEN, "--run-id", chosen)
    assert code == 1 and red["stages"][0]["status"] == "failed", err[-2000:]
    assert red["run_id"] == chosen and Path(red["artifacts"]).name == f"fx-web-{chosen}"
    # The quick run verified the known-good (before it reattached, after it restored): recorded.
    verified = Verified.read(load_config(bed).state / "canonical" / "fx-web")
    assert verified is not None and verified.ok
    infra.install_at("proxy", PROXY_NEW)
    infra.release("proxy", "2.0.0+v2.10.1", "next")
    code, held, err = infra.run("proxy")
    assert code == 3 and held["outcome"] == "held-major", err[-2000:]
    first = InfraState(infra.app_dir("proxy")).last_outcome()
    code, _, err = infra.run("proxy")  # the timer's next reconcile: held again, no sweep in between
    assert code == 3, err[-2000:]
    again = InfraState(infra.app_dir("proxy")).last_outcome()
    assert first is not None and again is not None and first.outcome == again.outcome == "held-major"
    assert again.since == first.since and again.at > first.at

    config = load_config(bed)
    site = status_page.render(config)
    assert site is not None
    for path in site.rglob("*"):  # the push token of the infra fixture is a secret too
        if path.is_file() and "artifacts" not in path.relative_to(site).parts:
            assert TOKEN not in path.read_text(), path
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nstatus page screenshots: {shots}")

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(site.joinpath("index.html").as_uri())
    page.screenshot(path=str(shots / "index-desktop.png"), full_page=True)

    def row(result):
        return page.locator(f"#runs-fx-web + div tr:has(a[href='runs/fx-web-{result['run_id']}.html'])")

    # Green is green, red is red, and the red one says where it failed.
    assert row(green).locator(".status").inner_text() == "passed"
    badge = row(red).locator(".status")
    assert badge.inner_text() == "failed"
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert "install failed" in row(red).inner_text()
    # The quick run that rolled back: red, quick, and the canonical is idle on its known-good again.
    assert row(quick).locator(".status").inner_text() == "failed" and "quick" in row(quick).inner_text()
    canonical = page.locator("#canonicals + div tr", has_text="fx-web")
    assert "idle" in canonical.inner_text() and green["to_version"] in canonical.inner_text()
    # The held reconcile: the proxy says held-major, why, and the alert is open.
    proxy = page.locator("#infra + div tr", has_text="proxy")
    assert "held-major" in proxy.locator("td[data-label='last outcome']").inner_text()
    assert "held-major" in proxy.locator("td[data-label='open alerts']").inner_text()
    assert PROXY_NEW in proxy.locator("td[data-label='running']").inner_text()
    # ... recorded by the reconciles themselves: held since the first, checked again at the second.
    assert "latest 2.0.0+v2.10.1" in proxy.locator("td[data-label='last outcome']").inner_text()
    since = proxy.locator("td[data-label='since']").inner_text()
    assert shown(first.since) in since and f"last reconcile {shown(again.at)}" in since
    # The canonical's last verify is the one the quick run recorded.
    verify = canonical.locator("td[data-label='last verify']").inner_text()
    assert verify.startswith("ok, ") and shown(verified.at) in verify
    # Trends: an SVG per recipe, drawn on the host.
    assert page.locator("#trends ~ .trends svg polyline").count() >= 2  # cold and quick lines for fx-web

    # The red run's page: red, the failing stage named, the log link opens the failing service's log.
    row(red).locator("a").first.click()
    page.wait_for_load_state()
    page.screenshot(path=str(shots / "red-run.png"), full_page=True)
    verdict = page.locator("#verdict")
    assert verdict.inner_text().startswith("Failed at stage install")
    assert verdict.evaluate("e => getComputedStyle(e).color") == RED
    failing = page.locator("#failure-logs a.failing")
    assert failing.count() >= 1
    name = failing.first.inner_text()
    log = Path(red["artifacts"]) / "failure" / name
    assert log.is_file() and name.endswith(".log")
    failing.first.click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/artifacts/{Path(red['artifacts']).name}/failure/{name}")
    assert page.locator("body").inner_text().strip() == log.read_text().strip()

    # On a phone: one column, nothing wider than the screen.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone.goto(site.joinpath("index.html").as_uri())
    phone.screenshot(path=str(shots / "index-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.goto(site.joinpath(f"runs/fx-web-{quick['run_id']}.html").as_uri())
    phone.screenshot(path=str(shots / "quick-run-phone.png"), full_page=True)
    assert "Failed at stage" in phone.locator("#verdict").inner_text()
    assert not page.locator("script").count() and not phone.locator("script").count()
