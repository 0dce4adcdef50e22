"""Issue 12: abra records TYPE=<recipe>:<version> already at `app new`.

So after an install whose deploy failed, the env file names a version that
never ran. The reconciler reads what runs (the version label abra puts on the
services; last_good when nothing is deployed), never the env file alone, and
does not deploy the rejected release again. Runs with this tree's stand-in,
which writes TYPE with the version at `app new` as abra does. Two ways an
install fails: abra refuses the deploy (its domain check, nothing deployed),
or the deploy is accepted and never becomes healthy (a missing image).
"""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
STANDIN = Path(__file__).resolve().parents[2] / "tests" / "bed" / "abra-standin"
BAD = "1.0.0+v2.10.0"


@pytest.mark.parametrize("domain_checks, ref", [
    (True, "broken/missing-image"),  # abra refuses the deploy: the domain does not resolve
    (False, "broken/missing-image"),  # deployed, never healthy
], ids=["deploy-refused", "never-healthy"])
def test_a_release_that_failed_at_install_is_not_redeployed(infra, domain_checks, ref):
    data = json.loads(infra.path.read_text())
    data.update(abra=str(STANDIN), domain_checks=domain_checks)
    infra.path.write_text(json.dumps(data))
    for tag in infra.git("proxy", "tag", "--list").split():
        infra.git("proxy", "tag", "-d", tag)
    infra.release("proxy", BAD, ref)

    code, first, err = infra.run("proxy")
    assert (code, first.get("outcome")) == (6, "install-failed"), err[-3000:]
    env = next((infra.app_dir("proxy") / "abra").rglob("*.env"))
    assert f"TYPE=fx-proxy:{BAD}" in env.read_text()  # what abra wrote at `app new`

    code, second, err = infra.run("proxy")
    assert f"deploy {BAD}" not in second.get("steps", []), second
    if domain_checks:  # nothing ever ran: nothing is current, and the only release is rejected
        assert code == 1 and "every release of the recipe was rejected" in err, (code, err[-2000:])
    else:  # the rejected release runs, unhealthy: reported, left as it is
        assert (code, second.get("outcome"), second.get("current")) == (6, "unhealthy", BAD), (code, second)
