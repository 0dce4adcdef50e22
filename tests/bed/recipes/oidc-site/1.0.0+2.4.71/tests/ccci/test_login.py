"""oidc-site recipe tests, run by ccci against a deployed app and its run's realm.

A real browser logs in: Debian's chromium, headless, driven by Playwright for
Python, opens https://CCCI_DOMAIN/, lands on the provider's login form, signs
in as the realm's user and comes back to a page that names them.

Environment: CCCI_URL, CCCI_DOMAIN (the app); CCCI_CONNECT_TO and
CCCI_CONNECT_NAMES (every name equal to or under those domains connects to
that address; the browser gets them as --host-resolver-rules), SSL_CERT_FILE
(the CA the browser must trust: put in a private NSS database, nothing is
ever accepted unverified); the realm ccci leased for this run:
CCCI_OIDC_ISSUER, CCCI_OIDC_USERNAME, CCCI_OIDC_PASSWORD. Screenshots go to
CCCI_ARTIFACTS when set, else to a fresh temporary folder (named in the output).
"""
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ENV = os.environ
CHROMIUM = Path("/usr/bin/chromium")
APP = f"https://{ENV['CCCI_DOMAIN']}"


def resolver_rules():
    """Chromium's form of what ccci's connect plugin does for Python."""
    address = ENV.get("CCCI_CONNECT_TO")
    if not address:
        return []
    names = [n.strip(".").lower() for n in ENV.get("CCCI_CONNECT_NAMES", "").split() if n.strip(".")]
    rules = ",".join(f"MAP {pattern} {address}" for n in names for pattern in (n, f"*.{n}"))
    return [f"--host-resolver-rules={rules}"] if rules else []


@pytest.fixture(scope="module")
def artifacts():
    folder = Path(ENV.get("CCCI_ARTIFACTS") or tempfile.mkdtemp(prefix="oidc-site-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def browser_home():
    """A HOME whose NSS database trusts SSL_CERT_FILE (chromium reads ~/.pki/nssdb)."""
    home = Path(tempfile.mkdtemp(prefix="oidc-site-home-"))
    ca = ENV.get("SSL_CERT_FILE")
    if ca:
        if not shutil.which("certutil"):
            pytest.fail("no certutil to trust SSL_CERT_FILE in chromium: apt-get install libnss3-tools")
        db = home / ".pki" / "nssdb"
        db.mkdir(parents=True)
        subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
        subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", "ccci-ca", "-t", "C,,", "-i", ca], check=True)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def driver():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not CHROMIUM.is_file():
        pytest.fail("no /usr/bin/chromium: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        yield playwright


def launch(driver, home):
    """Headless chromium whose HOME (and so NSS database) is `home`; TLS always verified."""
    return driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", *resolver_rules()],
        env={**ENV, "HOME": str(home)},
    )


@pytest.fixture(scope="module")
def browser(driver, browser_home):
    chromium = launch(driver, browser_home)
    yield chromium
    chromium.close()


def test_the_browser_verifies_tls(driver, tmp_path):
    """Without the CA the same browser refuses the site: the login below is verified TLS."""
    if not ENV.get("SSL_CERT_FILE"):
        pytest.skip("no private CA to leave out: the site's certificate is from the system's store")
    chromium = launch(driver, tmp_path)
    try:
        page = chromium.new_page()
        refused = pytest.importorskip("playwright.sync_api").Error
        with pytest.raises(refused, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(f"{APP}/health", timeout=30_000)
    finally:
        chromium.close()


def test_health_is_open_and_the_site_is_not():
    with urllib.request.urlopen(f"{APP}/health", timeout=10) as resp:
        assert resp.status == 200

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(Keep)
    # No Accept header: a probe, not a browser, is sent to the login too.
    request = urllib.request.Request(f"{APP}/")
    try:
        opener.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 302, error.code
        target = error.headers["Location"]
    else:
        raise AssertionError("/ was served without a login")
    issuer = ENV["CCCI_OIDC_ISSUER"].rstrip("/")
    assert target.startswith(f"{issuer}/protocol/openid-connect/auth?"), target
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    assert query["redirect_uri"] == [f"{APP}/redirect_uri"], query


def test_a_browser_logs_in_and_is_named(browser, artifacts):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{APP}/", timeout=60_000)
        issuer = ENV["CCCI_OIDC_ISSUER"].rstrip("/")
        assert page.url.startswith(f"{issuer}/protocol/openid-connect/auth?"), page.url
        page.wait_for_selector("#username", timeout=30_000)
        page.screenshot(path=str(artifacts / "oidc-site-login.png"))
        page.fill("#username", ENV["CCCI_OIDC_USERNAME"])
        page.fill("#password", ENV["CCCI_OIDC_PASSWORD"])
        page.click("#kc-login")
        try:
            page.wait_for_url(f"{APP}/", timeout=60_000)
        finally:
            page.screenshot(path=str(artifacts / "oidc-site-logged-in.png"))
        hello = page.text_content("#hello")
        assert hello == f"Hello {ENV['CCCI_OIDC_USERNAME']}", (page.url, hello)
        assert page.text_content("#issuer") == issuer
    finally:
        context.close()


def test_a_wrong_password_stays_on_the_login_form(browser, artifacts):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{APP}/", timeout=60_000)
        page.wait_for_selector("#username", timeout=30_000)
        page.fill("#username", ENV["CCCI_OIDC_USERNAME"])
        page.fill("#password", "not-" + ENV["CCCI_OIDC_PASSWORD"])
        page.click("#kc-login")
        page.wait_for_selector("#input-error, .kc-feedback-text, [id*=error]", timeout=30_000)
        page.screenshot(path=str(artifacts / "oidc-site-refused.png"))
        assert not page.url.startswith(f"{APP}/"), page.url
        assert page.query_selector("#hello") is None
    finally:
        context.close()
