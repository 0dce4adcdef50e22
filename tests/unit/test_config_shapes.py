"""Both config files refuse every value of the wrong shape, at every key, in one line naming it.

The keys are not listed here: they are read from the attrs models, so a field
added to either file is covered the day it is added. For each key, hypothesis
writes JSON of a kind the field does not take (a string for a list, a number
for a bool, NaN for a duration, a number out of its bounds, ...) into an
otherwise good file; the file must be refused with `BadConfig`, in one line
that names the key path, and never with another exception.
"""

from __future__ import annotations

import enum
import json
import math
import subprocess
import sys
import types
from typing import Annotated, Union, get_args, get_origin, get_type_hints

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.pure import bridge_config, config, strict
from ccci.pure.strict import BadConfig, Bounds

# Good files in which every optional object is present, so every key has a place.
GOOD_CONFIG = {
    "base_domain": "ci.test",
    "recipes": {"fx-web": {"needs": ["keycloak"]}},
    "keycloak": {"url": "http://127.0.0.1:18080", "admin_password_file": "/run/kc"},
    "infra": {"proxy": {"recipe": "fx-proxy", "domain": "proxy.ci.test", "health": {"status": [200]}}},
    "alerts": {"push_url": "https://ntfy.example.org/ccci", "token_file": "/run/t"},
    "status_page": {"dir": "/var/lib/ccci/status", "base_url": "https://ci.test/status"},
}
GOOD_BRIDGE = {
    "forge": {"kind": "forgejo", "url": "https://git.example.org", "token_file": "/run/t",
              "webhook_secret_file": "/run/w"},
    "drone": {"url": "https://drone.example.org", "token_file": "/run/d", "repo": "coop-cloud/ccci"},
    "repos": {"coop-cloud/custom-html": "custom-html"},
    "allowlist": ["alice"],
}
FILES = {
    "config": (config.Config, config.parse, GOOD_CONFIG),
    "bridge": (bridge_config.BridgeConfig, bridge_config.parse, GOOD_BRIDGE),
}


@attrs.frozen
class Key:
    path: tuple[str | int, ...]  # keys and list indexes into the JSON
    type: object  # the field's declared type
    optional: bool

    def dotted(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


def _unwrap_optional(tp: object) -> tuple[object, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        rest = [arg for arg in get_args(tp) if arg is not type(None)]
        if len(rest) == 1 and len(get_args(tp)) == 2:
            return rest[0], True
    return tp, False


def keys(model: type, good: object, path: tuple = ()) -> list[Key]:
    """Every key of `model` (recursively), placed where `good` has room for it."""
    found = []
    hints = get_type_hints(model, include_extras=True)
    for field in attrs.fields(model):
        tp, optional = _unwrap_optional(hints[field.name])
        here = (*path, field.name)
        found.append(Key(here, tp, optional))
        found += _inner(tp, good.get(field.name) if isinstance(good, dict) else None, here)
    return found


def _inner(tp: object, good: object, path: tuple) -> list[Key]:
    if attrs.has(tp):
        return keys(tp, good or {}, path)
    if get_origin(tp) is list and isinstance(good, list) and good:
        (item,) = get_args(tp)
        return [Key((*path, 0), item, False), *_inner(item, good[0], (*path, 0))]
    if get_origin(tp) is dict and isinstance(good, dict) and good:
        _, value = get_args(tp)
        name = next(iter(good))
        return [Key((*path, name), value, False), *_inner(value, good[name], (*path, name))]
    return []


def _base(tp: object) -> tuple[object, Bounds | None]:
    if get_origin(tp) is Annotated:
        base, *extras = get_args(tp)
        return base, next((e for e in extras if isinstance(e, Bounds)), None)
    return tp, None


# What each declared type takes, written from the JSON side (not from strict.py).
def takes(tp: object, value: object) -> bool:
    base, _ = _base(tp)
    if base is bool:
        return isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if base is str:
        return isinstance(value, str)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return any(type(value) is type(m.value) and value == m.value for m in base)
    if get_origin(base) is list:
        return isinstance(value, list)
    if get_origin(base) is dict or attrs.has(base):
        return isinstance(value, dict)
    raise AssertionError(f"a config field of a type this test does not know: {tp!r}")


json_scalars = (
    st.none() | st.booleans() | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def wrong_value(key: Key) -> st.SearchStrategy[object]:
    """JSON the field does not take: another kind, or a number outside its bounds."""
    wrong_kind = json_values.filter(lambda v: not takes(key.type, v) and not (v is None and key.optional))
    _, bounds = _base(key.type)
    if bounds is None:
        return wrong_kind
    outside = st.one_of(
        st.floats(max_value=bounds.low, exclude_max=True, allow_nan=False),
        st.floats(min_value=bounds.high, exclude_min=True, allow_nan=False),
        st.integers(max_value=math.ceil(bounds.low) - 1),
        st.integers(min_value=math.floor(bounds.high) + 1),
    )
    return wrong_kind | outside


def put(good: dict, path: tuple, value: object) -> dict:
    data = json.loads(json.dumps(good))
    target = data
    for part in path[:-1]:
        target = target[part] if isinstance(part, int) else target.setdefault(part, {})
    target[path[-1]] = value
    return data


ALL_KEYS = [(name, key) for name, (model, _, good) in FILES.items() for key in keys(model, good)]


def test_every_field_of_both_files_is_generated():
    dotted = {f"{name}:{key.dotted()}" for name, key in ALL_KEYS}
    # a sample from each level, so a broken walk cannot pass with few keys
    for expected in ("config:timeouts.converge", "config:recipes.fx-web.needs[0]",
                     "config:infra.proxy.health.status[0]", "config:alerts.timeout",
                     "bridge:allowlist[0]", "bridge:forge.kind", "bridge:poll_interval"):
        assert expected in dotted
    assert len(ALL_KEYS) > 40


@pytest.mark.parametrize(("name", "key"), ALL_KEYS, ids=[f"{n}:{k.dotted()}" for n, k in ALL_KEYS])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_value_of_the_wrong_shape_is_refused_in_one_line_naming_its_key(name, key, data):
    _, parse, good = FILES[name]
    value = data.draw(wrong_value(key), label="value")
    with pytest.raises(BadConfig) as caught:
        parse(put(good, key.path, value), "file.json")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"file.json: {key.dotted()}: "), message


def test_every_duration_and_count_is_bounded():
    unbounded = [
        f"{name}:{key.dotted()}" for name, key in ALL_KEYS
        if _base(key.type)[0] in (int, float) and _base(key.type)[1] is None
    ]
    assert unbounded == [], "declare every number with strict.Bounds (e.g. strict.Seconds)"


# -- the examples the hardening issue names ---------------------------------------


@pytest.mark.parametrize(("name", "path", "value", "says"), [
    ("bridge", ("allowlist",), "alice", 'allowlist: expected a list, got a string "alice"'),
    ("config", ("recipes", "fx-web", "needs"), "keycloak", 'recipes.fx-web.needs: expected a list, got a string'),
    ("bridge", ("poll_interval",), float("nan"), "poll_interval: expected a number of seconds of at least 0.01"),
    ("bridge", ("poll_interval",), float("inf"), "got Infinity"),
    ("config", ("timeouts", "converge"), float("nan"), "timeouts.converge: expected a positive number of seconds"),
    ("config", ("keep_runs",), True, "keep_runs: expected a positive count, got a boolean true"),
    ("config", ("recipes", "fx-web", "canonical"), "false", "recipes.fx-web.canonical: expected a boolean"),
])
def test_named_examples(name, path, value, says):
    _, parse, good = FILES[name]
    with pytest.raises(BadConfig, match=None) as caught:
        parse(put(good, path, value), "f")
    assert says in str(caught.value)


# -- the file's text: top level, duplicates, depth ------------------------------------


@pytest.mark.parametrize(("text", "says"), [
    ("[]", "expected a JSON object at the top level, got a list"),
    ('"x"', "got a string"),
    ("null", "got null"),
    ("3", "got an integer"),
    ('{"base_domain": "ci.test", "base_domain": "ci.test"}', "f: base_domain: key given twice"),
    ('{"base_domain": "ci.test", "timeouts": {"http": 1, "http": 2}}', "f: timeouts.http: key given twice"),
    ('{"base_domain": "ci.test", "infra": {"a": {"health": {"status": [1, {"x": 1, "x": 2}]}}}}',
     "f: infra.a.health.status[1].x: key given twice"),
    ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "nested deeper than"),
    ('{"base_domain": "ci.test", "timeouts": {"http": NaN}}', "timeouts.http: expected a positive number of seconds"),
    ('{"base_domain": "ci.test", "keep_runs": 1e999}', "keep_runs: expected a positive count, got Infinity"),
    (b'{"base_domain": "\xff"}', "not UTF-8"),
])
def test_bad_text_is_one_line(text, says):
    with pytest.raises(BadConfig) as caught:
        strict.load(text, config.Config, config.CONVERTER, "f")
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_brackets_inside_strings_do_not_count_as_depth():
    deep_string = "[" * 1000 + '\\"{' * 100
    data = strict.loads(json.dumps({"base_domain": "ci.test", "state_dir": deep_string}), "f")
    assert data["state_dir"] == deep_string


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values.map(json.dumps), st.text(max_size=60), st.binary(max_size=60)))
def test_any_text_is_a_config_or_one_line(text):
    for model, conv in ((config.Config, config.CONVERTER), (bridge_config.BridgeConfig, bridge_config.CONVERTER)):
        try:
            strict.load(text, model, conv, "f")
        except BadConfig as error:
            assert "\n" not in str(error) and str(error).startswith("f: ")


# -- through the console scripts: exit 2, one line -------------------------------------


@pytest.mark.parametrize(("module", "argv", "content", "says"), [
    ("ccci.entry.reconcile", ["proxy"], "[1, 2]", "expected a JSON object at the top level"),
    ("ccci.entry.run", ["fx-web"], '{"base_domain": "ci.test", "timeouts": {"converge": NaN}}',
     "timeouts.converge: expected a positive number of seconds, got NaN"),
    ("ccci.entry.nightly", [], '{"base_domain": "ci.test", "recipes": {"fx-web": {"needs": "keycloak"}}}',
     'recipes.fx-web.needs: expected a list, got a string "keycloak"'),
    ("ccci.entry.bridge", ["poll", "--once"], json.dumps({**GOOD_BRIDGE, "allowlist": "alice"}),
     'allowlist: expected a list, got a string "alice"'),
    ("ccci.entry.bridge", ["serve"], "[" * 50_000, "nested deeper than"),
])
def test_a_bad_config_exits_2_with_one_line(tmp_path, module, argv, content, says):
    path = tmp_path / "c.json"
    path.write_text(content)
    done = subprocess.run([sys.executable, "-m", module, *argv, "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and str(path) in lines[0], done.stderr
