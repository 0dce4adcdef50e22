"""The strict JSON boundary: one cattrs converter factory for every file ccci reads.

cattrs by default coerces: `"false"` becomes True, `"5"` becomes 5, `5`
becomes "5". At the edge of a CI system that is how a typo turns into the
opposite setting, so here a value must already have its type: bool is a JSON
boolean, int a JSON integer (not a boolean), float a JSON number, str a JSON
string. Unknown keys are rejected (classes registered with `strict_classes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import cattrs
from cattrs.gen import make_dict_structure_fn


def _exact(kind: type, *accepted: type):
    def structure(value: object, _type: object) -> object:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {kind.__name__}, got a boolean")
        if not isinstance(value, accepted):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        return kind(value)

    return structure


def converter(strict_classes: Iterable[type] = ()) -> cattrs.Converter:
    """A converter that refuses unknown keys and coerces no scalar."""
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(bool, _exact(bool, bool))
    conv.register_structure_hook(int, _exact(int, int))
    conv.register_structure_hook(float, _exact(float, int, float))
    conv.register_structure_hook(str, _exact(str, str))
    for cls in strict_classes:
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True))
    return conv


def read_json(path: Path, what: str, hint: str, error: type[Exception]) -> object:
    """The JSON in `path`, or `error` with one line saying what went wrong."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"no {what} at {path} ({hint})") from None
    except (OSError, ValueError) as problem:
        raise error(f"cannot read {what} {path}: {problem}") from None
