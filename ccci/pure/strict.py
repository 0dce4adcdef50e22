"""The strict JSON boundary: the one reader and the one converter for ccci's files.

Both config files (and any later one) go through here, so a rule holds for
every key of every file:

- the text is JSON whose top level is an object, nested at most `MAX_DEPTH`
  deep, with no key given twice in one object;
- a value already has its type: bool is a JSON boolean, int a JSON integer
  (not a boolean), float a finite JSON number, str a JSON string, a list a
  JSON array (a string is never a list of characters), a mapping a JSON
  object, an enum one of its spelled-out values; nothing is coerced, because
  cattrs' coercion (`"false"` -> True, `"alice"` -> ['a', 'l', ...]) is how a
  typo turns into the opposite setting at a CI system's edge;
- a number annotated with `Bounds` (every duration and count) lies in them;
- keys a model does not declare are refused.

Every refusal is one `BadConfig` line that names the source and the key
path, e.g. `config.json: timeouts.converge: expected a positive number of
seconds, got NaN`. Pure: callers read the file and hand the text in.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import list_structure_factory, mapping_structure_factory
from cattrs.gen import make_dict_structure_fn

from ccci.pure.names import BadInput

T = TypeVar("T")

# Deeper than any ccci file needs (infra.<app>.health.status is 4 levels), far
# below what would exhaust Python's recursion limit while reading or converting.
MAX_DEPTH = 32


class BadConfig(BadInput):
    """A config file is missing, unreadable or does not fit the model."""


class _Refused(ValueError):
    """One value does not fit; the message is said as is, after its key path."""


@attrs.frozen
class Bounds:
    """The inclusive range of a number field, and what the field holds, in words."""

    low: float
    high: float
    what: str

    def check(self, value: float) -> None:
        if not self.low <= value <= self.high:
            raise _Refused(f"expected {self.what} (at most {_number(self.high)}), got {show(value)}")


@attrs.frozen
class Check:
    """A string field whose value must pass `parse`, which raises BadInput saying why not."""

    parse: Callable[[str], object]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# The numbers ccci's files hold. A new duration or count uses one of these (or
# its own Annotated[..., Bounds(...)]): tests/unit/test_config_shapes.py
# refuses a bare int or float field.
DAY = 24 * 3600
Seconds = Annotated[int, Bounds(1, 7 * DAY, "a positive number of seconds")]
SecondsOrZero = Annotated[int, Bounds(0, 7 * DAY, "a number of seconds, 0 or more")]
Interval = Annotated[float, Bounds(0.01, DAY, "a number of seconds of at least 0.01")]
Count = Annotated[int, Bounds(1, 100_000, "a positive count")]
MiB = Annotated[int, Bounds(0, 1 << 40, "a number of MiB, 0 or more")]
Port = Annotated[int, Bounds(0, 65535, "a TCP port (0-65535)")]
HttpStatus = Annotated[int, Bounds(100, 599, "an HTTP status code (100-599)")]
Bytes = Annotated[int, Bounds(1024, 1 << 30, "a number of bytes of at least 1024")]


def show(value: object) -> str:
    """A value as the operator wrote it in JSON, cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_JSON_KIND = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
              list: "a list", dict: "an object", type(None): "null"}


def kind_of(value: object) -> str:
    return _JSON_KIND.get(type(value), type(value).__name__)


def _got(value: object) -> str:
    if isinstance(value, (list, dict)):
        return kind_of(value)
    if isinstance(value, float) and not math.isfinite(value):
        return show(value)
    return f"{kind_of(value)} {show(value)}"


def _scalar(expected: str, check) -> Any:
    def structure(value: object, _type: object) -> object:
        if not check(value):
            raise _Refused(f"expected {expected}, got {_got(value)}")
        return value

    return structure


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


_SCALARS = {
    bool: ("a boolean", lambda v: isinstance(v, bool)),
    int: ("an integer", _is_int),
    float: ("a finite number", _is_number),
    str: ("a string", lambda v: isinstance(v, str)),
}


def _structure_number(value: object, base: type, bounds: Bounds) -> object:
    fits = _is_int(value) if base is int else _is_number(value)
    if not fits:
        raise _Refused(f"expected {bounds.what}, got {_got(value)}")
    bounds.check(value)  # type: ignore[arg-type]
    return float(value) if base is float else value  # type: ignore[arg-type]


def _structure_checked(value: object, check: Check) -> str:
    if not isinstance(value, str):
        raise _Refused(f"expected a string, got {_got(value)}")
    try:
        check.parse(value)
    except BadInput as error:
        raise _Refused(str(error)) from None
    return value


def _annotated_factory(annotated: Any) -> Any:
    base, *extras = get_args(annotated)
    bounds = next((extra for extra in extras if isinstance(extra, Bounds)), None)
    check = next((extra for extra in extras if isinstance(extra, Check)), None)
    if bounds is not None and base in (int, float):
        return lambda value, _type: _structure_number(value, base, bounds)
    if check is not None and base is str:
        return lambda value, _type: _structure_checked(value, check)
    raise TypeError(f"strict: unsupported annotation {annotated!r}")


def _enum_factory(cls: type[enum.Enum]) -> Any:
    values = [member.value for member in cls]

    def structure(value: object, _type: object) -> enum.Enum:
        for member in cls:
            if type(value) is type(member.value) and value == member.value:
                return member
        raise _Refused(f"expected one of {', '.join(map(show, values))}, got {_got(value)}")

    return structure


def _container(kind: type, expected: str, factory: Any) -> Any:
    """A hook factory for list[...] or dict[...]: the JSON kind first, then cattrs' own per-item hooks."""

    def make(type_: Any, conv: cattrs.Converter) -> Any:
        inner = factory(type_, conv)

        def structure(value: object, _type: object) -> object:
            if not isinstance(value, kind):
                raise _Refused(f"expected {expected}, got {_got(value)}")
            return inner(value, type_)

        return structure

    return make


def converter(models: Iterable[type]) -> cattrs.Converter:
    """The converter for `models` (attrs classes): unknown keys refused, nothing coerced."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for base, (expected, check) in _SCALARS.items():
        conv.register_structure_hook(base, _scalar(expected, check))
    conv.register_structure_hook_factory(lambda t: get_origin(t) is Annotated, _annotated_factory)
    conv.register_structure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_factory
    )
    conv.register_structure_hook_factory(
        lambda t: get_origin(t) is list, _container(list, "a list", list_structure_factory))
    conv.register_structure_hook_factory(
        lambda t: get_origin(t) is dict, _container(dict, "an object", mapping_structure_factory))
    # A factory, not one hook per class: a model's hook is built when a model
    # that contains it is, and must already be this one.
    known = frozenset(models)
    conv.register_structure_hook_factory(lambda t: t in known, lambda t: _object_of(t, conv))
    return conv


def _object_of(cls: type, conv: cattrs.Converter) -> Any:
    inner = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True)

    def structure(value: object, _type: object) -> object:
        if not isinstance(value, dict):
            raise _Refused(f"expected an object, got {_got(value)}")
        return inner(value, cls)

    return structure


# -- reading --------------------------------------------------------------------


class _Pairs(dict):
    """A JSON object that remembers the first key it was given twice."""

    twice: str | None = None


def _pairs(pairs: list[tuple[str, object]]) -> _Pairs:
    result = _Pairs()
    for key, value in pairs:
        if key in result and result.twice is None:
            result.twice = key
        result[key] = value
    return result


def _depth(text: str) -> int:
    """How deep arrays and objects nest in `text` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _duplicate(value: object, path: str) -> str | None:
    """The key path of the first key given twice in one object, if any."""
    if isinstance(value, _Pairs):
        if value.twice is not None:
            return _join(path, value.twice)
        items: Iterable[tuple[str, object]] = value.items()
    elif isinstance(value, list):
        items = ((f"[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _duplicate(item, _join(path, key))
        if found:
            return found
    return None


def _join(path: str, key: str) -> str:
    if key.startswith("["):
        return path + key
    return f"{path}.{key}" if path else key


def loads(text: str | bytes, source: str) -> dict[str, object]:
    """The JSON object in `text`, or BadConfig naming `source` and what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadConfig(f"{source}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    if _depth(text) > MAX_DEPTH:
        raise BadConfig(f"{source}: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text, object_pairs_hook=_pairs)
    except (ValueError, RecursionError) as error:
        raise BadConfig(f"{source}: not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadConfig(f"{source}: expected a JSON object at the top level, got {kind_of(data)}")
    twice = _duplicate(data, "")
    if twice is not None:
        raise BadConfig(f"{source}: {twice}: key given twice")
    return dict(data)


# -- structuring ----------------------------------------------------------------


def _describe(error: BaseException, _type: object) -> str:
    if isinstance(error, (_Refused, BadInput)):
        return str(error)
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        return f"unknown key(s): {', '.join(sorted(error.extra_fields))}"
    if isinstance(error, KeyError):
        return "required key missing"
    return cattrs.v.format_exception(error, _type)


_SUBSCRIPT = re.compile(r"\['((?:[^'\\]|\\.)*)'\]|\[\"((?:[^\"\\]|\\.)*)\"\]")


def _key_path(where: str) -> str:
    """cattrs' `$.recipes['fx-web'].needs[0]` as the operator writes it: `recipes.fx-web.needs[0]`."""
    path = _SUBSCRIPT.sub(lambda m: "." + (m.group(1) if m.group(1) is not None else m.group(2)), where[1:])
    return path.lstrip(".")


def one_line(error: BaseException) -> str:
    """The first thing wrong, with its key path: what the operator fixes first."""
    if isinstance(error, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        notes = cattrs.transform_error(error, format_exception=_describe)
        if notes:
            message, _, where = notes[0].rpartition(" @ ")
            path = _key_path(where)
            return f"{path}: {message}" if path else message
    return _describe(error, None)


def structure(data: object, model: type[T], conv: cattrs.Converter, source: str) -> T:
    """`data` as `model`, or BadConfig: `<source>: <key path>: <what is wrong>`."""
    if not isinstance(data, dict):
        raise BadConfig(f"{source}: expected a JSON object at the top level, got {kind_of(data)}")
    try:
        return conv.structure(data, model)
    except BadInput as error:
        raise BadConfig(f"{source}: {error}") from None
    except (cattrs.BaseValidationError, _Refused, TypeError, ValueError, KeyError) as error:
        raise BadConfig(f"{source}: {' '.join(one_line(error).split())}") from None


def load(text: str | bytes, model: type[T], conv: cattrs.Converter, source: str) -> T:
    """The model in a file's text: `loads` then `structure`."""
    return structure(loads(text, source), model, conv, source)


def record(text: str, model: type[T], conv: cattrs.Converter, what: str) -> T:
    """A JSON object ccci wrote itself (a state record, a job's result) as `model`;
    ValueError `not <what>: why` for anything else (config files go through `load`)."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        return conv.structure(data, model)
    except (ValueError, TypeError, KeyError, cattrs.BaseValidationError) as error:
        raise ValueError(f"not {what}: {error}") from None
