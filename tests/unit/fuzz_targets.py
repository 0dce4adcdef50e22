"""Fuzz targets: each of ccci's parsers of outside input, with a generator and its invariant.

One place for both budgets: tests/unit/test_fuzz.py runs every target on a
small budget in every test run; bench/fuzz.py runs each on 10,000 or more.
A target is a generator of inputs and a check that must hold for every one
(an exception other than the parser's own refusal is a crash). `open_target`
gives the check, set up (the HTTP target runs a real server on 127.0.0.1).

Other fuzz targets (the tar scanner + restore, bench/fuzz_tar.py) plug in by
exposing `TARGETS` of the same `Target` shape; bench/fuzz.py picks them up.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
from hypothesis import strategies as st

from ccci.pure import bridge_config, config, strict, trigger, versions, webhook
from ccci.pure.results import Mode
from ccci.seams.abra import LintError, parse_lint


@attrs.frozen
class Target:
    name: str
    inputs: st.SearchStrategy
    # a context manager factory yielding the check (so a target can hold a server)
    open: Callable[[], contextlib.AbstractContextManager[Callable[[object], None]]]


def plain(check: Callable[[object], None]) -> Callable[[], contextlib.AbstractContextManager]:
    return lambda: contextlib.nullcontext(check)


json_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

# -- config: both files, as text --------------------------------------------------------

CONFIG_KEYS = ["base_domain", "timeouts", "recipes", "infra", "alerts", "keep_runs", "converge", "needs",
               "forge", "drone", "repos", "allowlist", "poll_interval", "health", "status", "url", "kind"]


def _config_shaped(values):
    return st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=8), values, max_size=6)


config_texts = st.one_of(
    json_values.map(json.dumps),
    st.recursive(json_scalars, _config_shaped, max_leaves=20).map(json.dumps),
    st.text(max_size=80),
    st.binary(max_size=80),
    st.integers(1, 3000).map(lambda n: "[" * n),
    st.tuples(st.sampled_from(CONFIG_KEYS), json_values, json_values).map(
        lambda t: f'{{"{t[0]}": {json.dumps(t[1])}, "{t[0]}": {json.dumps(t[2])}}}'),
)


def check_config(text) -> None:
    for model, conv in ((config.Config, config.CONVERTER), (bridge_config.BridgeConfig, bridge_config.CONVERTER)):
        try:
            strict.load(text, model, conv, "f")
        except strict.BadConfig as error:
            line = str(error)
            assert line.startswith("f: ") and "\n" not in line, line


# -- trigger ------------------------------------------------------------------------------

# The oracle: a hand-written pattern, not the implementation's strip.
_COMMAND = re.compile(r"[ \t\r\n\f\v]*(!testme|!testme --quick)[ \t\r\n\f\v]*")
trigger_texts = st.one_of(
    st.text(max_size=40),
    st.tuples(st.text(" \t\r\n\f\v\u00a0\u2003\u200b\x1c\x85", max_size=4),
              st.sampled_from(["!testme", "!testme --quick", "!testme  --quick", "!TESTME", "!testme --quick x"]),
              st.text(" \t\r\n\f\v\u00a0\u2003\u200b\x1c\x85", max_size=4)).map("".join),
)


def check_trigger(text) -> None:
    mode = trigger.parse_comment(text)
    match = _COMMAND.fullmatch(text)
    expected = None if match is None else {"!testme": Mode.COLD, "!testme --quick": Mode.QUICK}[match.group(1)]
    assert mode is expected, (text, mode)


# -- webhook payload and signature ----------------------------------------------------------

def _payload(values):
    comment = st.fixed_dictionaries({"id": values, "body": values, "user": st.fixed_dictionaries({"login": values})})
    return st.fixed_dictionaries({
        "action": values, "comment": comment, "repository": st.fixed_dictionaries({"full_name": values}),
        "issue": st.fixed_dictionaries({"number": values, "state": values}),
    }, optional={"is_pull": values, "pull_request": values})


webhook_inputs = st.tuples(
    st.one_of(st.binary(max_size=120), json_values.map(lambda v: json.dumps(v).encode()),
              _payload(json_values).map(lambda v: json.dumps(v).encode())),
    st.dictionaries(st.sampled_from(["X-Gitea-Signature", "x-forgejo-signature", "X-Gitea-Event", "Other"]),
                    st.text(max_size=70), max_size=3),
    st.sampled_from(list(bridge_config.ForgeKind)),
)


def check_webhook(args) -> None:
    body, headers, kind = args
    try:
        webhook.verify(headers, body, "secret", kind)
    except webhook.BadSignature:
        pass
    try:
        event = webhook.CommentEvent.parse(body)
    except webhook.BadPayload:
        return
    assert event.comment_id > 0 and event.number > 0 and "/" in event.repo


# -- versions --------------------------------------------------------------------------------

version_parts = st.sampled_from(["0", "1", "9", "10", "01", "v1", "1.2", "1.2.3", "1.2.3-rc1", "1.2.3-fpm",
                                 "latest", "", "+", ".", "-rc", "x"])
version_texts = st.one_of(
    st.text(max_size=30),
    st.lists(version_parts, max_size=6).map("".join),
    st.builds(lambda a, b: f"{a}+{b}", st.from_regex(r"\d{1,3}\.\d{1,3}\.\d{1,3}", fullmatch=True),
              st.lists(version_parts, max_size=4).map("".join)),
)


def check_versions(args) -> None:
    a, b = args
    step = versions.classify(a, b)
    assert step.move in versions.Move
    ra, rb = versions.Release.parse(a), versions.Release.parse(b)
    if ra is not None and rb is not None:
        assert [ra < rb, ra == rb, rb < ra].count(True) == 1
        if step.move in (versions.Move.MINOR, versions.Move.MAJOR):
            assert rb > ra


# -- abra's lint table ---------------------------------------------------------------------------

_CELLS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), max_size=12) | st.sampled_from(
    ["✅", "❌", "error", "warning", "R001", "│", "|", "yes", "no", ""])


def _table(rows):
    bar = "│"
    return "\n".join(bar + bar.join(f" {c} " for c in row) + bar for row in rows)


lint_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.lists(_CELLS, min_size=3, max_size=7), min_size=1, max_size=6).map(
        lambda rows: "┌──┐\n│ REF │ RULE │ SEVERITY │ SATISFIED │ SKIPPED │\n" + _table(rows) + "\n└──┘"),
    st.lists(st.sampled_from(["┌──┬──┐", "├──┼──┤", "└──┴──┘", "+--+--+", "| a | b |", "│ REF │ RULE │ SEVERITY │ SATISFIED │",
                              "│ R1 │ x │ error │ ❌ │", "WARN x", "", "╞══╪══╡"]), max_size=8).map("\n".join),
)


def check_lint(text) -> None:
    try:
        report = parse_lint(text)
    except LintError as error:
        assert error.output == text and "lint" in str(error)
        return
    assert report.rules and all(rule.severity in ("error", "warning") for rule in report.rules)


# -- the bridge's HTTP server ---------------------------------------------------------------------

_TOKEN = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10)
_HEADER_VALUES = st.one_of(
    st.sampled_from(["0", "5", "10", "-1", "²", "١٢", "𝟓", "5, 5", " 5 ", "0x10", "9" * 5000, "1e3", "",
                     "chunked", "identity", "\x00", "sha256=x", "a\r\n b", "issue_comment"]),
    st.text(max_size=40).map(lambda t: t.replace("\r", "").replace("\n", "")),
)
_HEADERS = st.lists(st.tuples(
    st.sampled_from(["Content-Length", "content-length", "Transfer-Encoding", "X-Gitea-Signature",
                     "X-Gitea-Event", "Connection", "Expect", "Host"]) | _TOKEN | st.text(max_size=8),
    _HEADER_VALUES), max_size=6)
http_requests = st.builds(
    lambda method, path, version, headers, body, extra: (
        f"{method} {path} {version}\r\n".encode("utf-8", "surrogatepass")
        + b"".join(f"{k}: {v}\r\n".encode("utf-8", "surrogatepass") for k, v in headers)
        + b"\r\n" + body + extra
    ),
    st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "post", "PO ST"]) | _TOKEN,
    st.sampled_from(["/hook", "/healthz", "/", "/hook?x=1", "*", "//hook", "/" + "a" * 3000]) | st.text(max_size=10).map(
        lambda t: "/" + t.replace(" ", "").replace("\r", "").replace("\n", "")),
    st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/1.x", "HTTP/0.9", "FTP/1.0", "HTTP/1.1.1"]) | _TOKEN,
    _HEADERS,
    st.binary(max_size=64),
    st.sampled_from([b"", b"\r\n", b"GET / HTTP/1.1\r\n\r\n"]),
).filter(lambda raw: len(raw) > 0)

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


@contextlib.contextmanager
def http_server() -> Iterator[Callable[[bytes], None]]:
    """A real webhook server on 127.0.0.1 whose forge and CI are never reached (no valid signature)."""
    from ccci.jobs.bridge.server import WebhookServer
    from ccci.jobs.bridge.service import Bridge
    from ccci.jobs.bridge.store import Store
    from ccci.seams.drone import Drone
    from ccci.seams.forge import Forge

    with tempfile.TemporaryDirectory(prefix="ccci-fuzz-http-") as root:
        cfg = bridge_config.parse({
            "forge": {"kind": "gitea", "url": "http://127.0.0.1:9", "token_file": "/t", "webhook_secret_file": "/w"},
            "drone": {"url": "http://127.0.0.1:9", "token_file": "/d", "repo": "o/ccci"},
            "repos": {"o/r": "r"}, "state_dir": str(Path(root) / "state"), "max_body_bytes": 4096,
            "listen_port": 0,
        })
        secret = bridge_config.Secret("fuzz-secret")
        bridge = Bridge(cfg, Forge(cfg.forge.url, secret, 1), Drone(cfg.drone, secret, 1), Store(cfg.state))
        server = WebhookServer(("127.0.0.1", 0), bridge, secret)
        crashes: list[str] = []
        server.handle_error = lambda request, address: crashes.append("handler raised")  # type: ignore[method-assign]
        server.start(poll_interval=0.05)
        port = server.server_address[1]

        def check(raw: bytes) -> None:
            crashes.clear()
            reply = _exchange(port, raw)
            assert not crashes, crashes
            match = _STATUS_LINE.match(reply)
            assert match is not None, reply[:200]
            status = int(match.group(1))
            assert 200 <= status < 300 or 400 <= status < 500, reply[:200]
            if status >= 400:  # closed: the pipelined request after it got no answer
                assert len(_STATUS_LINE.findall(reply)) == 1, reply[:400]
            assert not (Path(root) / "state").exists() or not any((Path(root) / "state").iterdir())

        try:
            yield check
        finally:
            server.shutdown()
            server.server_close()


def _exchange(port: int, raw: bytes) -> bytes:
    """Send `raw`, stop writing, and read until the server closes (which it must, within 10 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before reading it all
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


TARGETS = [
    Target("config", config_texts, plain(check_config)),
    Target("trigger", trigger_texts, plain(check_trigger)),
    Target("webhook", webhook_inputs, plain(check_webhook)),
    Target("versions", st.tuples(version_texts, version_texts), plain(check_versions)),
    Target("lint table", lint_texts, plain(check_lint)),
    Target("http", http_requests, http_server),
]
