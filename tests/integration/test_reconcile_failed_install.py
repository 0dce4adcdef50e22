"""Issue 12: abra records TYPE=<recipe>:<version> already at `app new`.

So after an install whose deploy failed, the env file names a version that
never ran. The reconciler must read what is running, not the env file, and
must not deploy the rejected release again. Runs with this tree's stand-in,
which writes TYPE with the version at `app new` as abra does.
"""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
STANDIN = Path(__file__).resolve().parents[2] / "tests" / "bed" / "abra-standin"


@pytest.mark.xfail(strict=True, reason=(
    "issue 12: the reconciler reads the env file's TYPE as the current version and redeploys a "
    "release rejected at install; the fix reads the running version (service labels/image) and "
    "builds its Abra with Abra.from_config (so -D reaches the deploy)"))
def test_a_release_that_failed_at_install_is_not_redeployed(infra):
    data = json.loads(infra.path.read_text())
    data.update(abra=str(STANDIN), domain_checks=False)
    infra.path.write_text(json.dumps(data))
    tags = infra.git("proxy", "tag", "--list").split()
    for tag in tags:
        infra.git("proxy", "tag", "-d", tag)
    bad = "1.0.0+v2.10.0"
    infra.release("proxy", bad, "broken/missing-image")
    code, first, err = infra.run("proxy")
    assert first.get("outcome") == "install-failed", err[-3000:]
    code, second, err = infra.run("proxy")
    assert f"deploy {bad}" not in second.get("steps", []), second
