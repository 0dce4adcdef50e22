"""The config file: strict at the edge, round-trips through JSON."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.entry.common import load_config
from ccci.pure import config
from ccci.pure.config import BadConfig, Config, Ingress, Timeouts

labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(
    st.lists(labels, min_size=2, max_size=3).map(".".join),
    st.sampled_from(list(Ingress)),
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=3600),
)
def test_config_round_trips_through_json(base, ingress, keep, converge):
    original = Config(base_domain=base, ingress=ingress, keep_runs=keep, timeouts=Timeouts(converge=converge))
    assert config.parse(json.loads(config.dump(original))) == original


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"base_domain": "ci.test", "surprise": 1}, "surprise"),
        ({"base_domain": "ci.test", "timeouts": {"convrge": 1}}, "convrge"),
        ({"base_domain": "ci.test", "keep_runs": "many"}, "keep_runs"),
        ({}, "base_domain"),
        ({"base_domain": "CI"}, "bad domain"),
        ({"base_domain": "ci.test", "recipe_source": "https://x/y.git"}, "{recipe}"),
        ({"base_domain": "ci.test", "recipes": {"../x": {}}}, "bad recipe name"),
        ({"base_domain": "ci.test", "ingress": "carrier-pigeon"}, "ingress"),
        ({"base_domain": "ci.test", "ca_certificates": "tls/ca.pem"}, "ca_certificates"),
        ({"base_domain": "ci.test", "ca_certificates": 1}, "ca_certificates"),
        ({"base_domain": "ci.test", "keep_runs": 0}, "keep_runs"),
    ],
)
def test_bad_config_is_one_clear_line(data, says):
    with pytest.raises(BadConfig) as caught:
        config.parse(data, "cfg.json")
    message = str(caught.value)
    assert says in message and "\n" not in message and message.startswith("cfg.json: ")


def test_load_reports_a_missing_or_broken_file(tmp_path):
    with pytest.raises(BadConfig, match="no config file"):
        load_config(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(BadConfig, match="broken.json: not JSON"):
        load_config(broken)


def test_load_reads_ccci_config_when_no_path_is_given(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"base_domain": "ci.test", "keep_runs": 7}))
    monkeypatch.setenv("CCCI_CONFIG", str(path))
    assert load_config().keep_runs == 7


def test_recipe_url_fills_the_template():
    c = Config(base_domain="ci.test", recipe_source="file:///r/{recipe}")
    from ccci.pure.names import RecipeName

    assert c.recipe_url(RecipeName.parse("fx-web")) == "file:///r/fx-web"


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"base_domain": "ci.test", "recipes": {"fx-web": {"canonical": "false"}}}, "canonical"),
        ({"base_domain": "ci.test", "keep_runs": "5"}, "keep_runs"),
        ({"base_domain": "ci.test", "keep_runs": True}, "keep_runs"),
        ({"base_domain": "ci.test", "keep_runs": 5.5}, "keep_runs"),
        ({"base_domain": 5}, "base_domain"),
        ({"base_domain": "ci.test", "recipes": {"fx-web": {"needs": "keycloak"}}}, "needs"),
    ],
)
def test_no_value_is_coerced_to_another_type(data, where):
    # cattrs alone would read "false" as True: at a CI system's edge a typo must not flip a setting.
    with pytest.raises(BadConfig) as caught:
        config.parse(data)
    assert where in str(caught.value)
