"""A forge's `issue_comment` webhook: its signature and its payload.

Pure: no I/O. The signature is the hex HMAC-SHA256 of the raw body with the
webhook secret, in `X-Gitea-Signature` (Gitea) or `X-Forgejo-Signature`
(Forgejo, which also sends the Gitea header); it is checked with a
constant-time compare before the body is parsed. The payload is read into
`CommentEvent` with cattrs; unlike our own config, unknown keys are ignored
here on purpose: the forge's payload carries many fields and gains more with
each release, and we read only the few we need.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

from ccci.pure.bridge_config import ForgeKind
from ccci.pure.names import BadInput

EVENT = "issue_comment"
_LOGIN = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")


class BadSignature(BadInput):
    """The request is unsigned or its signature does not match."""


class BadPayload(BadInput):
    """The body is not a forge comment payload we can read."""


def signature_headers(kind: ForgeKind) -> tuple[str, ...]:
    match kind:
        case ForgeKind.GITEA:
            return ("X-Gitea-Signature",)
        case ForgeKind.FORGEJO:
            return ("X-Forgejo-Signature", "X-Gitea-Signature")


def event_headers(kind: ForgeKind) -> tuple[str, ...]:
    match kind:
        case ForgeKind.GITEA:
            return ("X-Gitea-Event",)
        case ForgeKind.FORGEJO:
            return ("X-Forgejo-Event", "X-Gitea-Event")


def _first(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first of `names` present, matched case-insensitively as HTTP does."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None:
            return value
    return None


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(headers: Mapping[str, str], body: bytes, secret: str, kind: ForgeKind) -> None:
    """Raise BadSignature unless the body carries the secret's HMAC."""
    given = _first(headers, signature_headers(kind))
    if not given:
        raise BadSignature(f"unsigned request (no {' or '.join(signature_headers(kind))} header)")
    expected = sign(body, secret).encode()
    # compare_digest on bytes: constant time, and no TypeError on non-ASCII input.
    if not hmac.compare_digest(expected, given.strip().lower().encode("utf-8", "replace")):
        raise BadSignature("signature does not match the body")


def event_name(headers: Mapping[str, str], kind: ForgeKind) -> str:
    return _first(headers, event_headers(kind)) or ""


# The few payload fields we read, in the forge's documented names
# (Gitea's and Forgejo's `IssueCommentPayload`).
@attrs.frozen
class _User:
    login: str


@attrs.frozen
class _Comment:
    id: int
    body: str
    user: _User


@attrs.frozen
class _Issue:
    number: int
    state: str
    # Gitea and Forgejo: null on a plain issue, PR metadata on a pull request.
    pull_request: dict[str, Any] | None = None


@attrs.frozen
class _Head:
    sha: str


@attrs.frozen
class _Pull:
    head: _Head | None = None


@attrs.frozen
class _Repository:
    full_name: str


@attrs.frozen
class _Payload:
    action: str
    issue: _Issue
    comment: _Comment
    repository: _Repository
    is_pull: bool = False
    pull_request: _Pull | None = None


_CONVERTER = cattrs.Converter()
# A JSON string is not a number, nor 1 a boolean: no silent coercion at the edge.
for _exact in (int, str, bool):
    def _strict(value: object, cls: type, _type: type = _exact) -> object:
        if type(value) is not _type:
            raise TypeError(f"expected {_type.__name__}")
        return value
    _CONVERTER.register_structure_hook(_exact, _strict)


@attrs.frozen
class CommentEvent:
    """One comment, as a webhook or the poller saw it."""

    action: str  # created | edited | deleted
    comment_id: int
    body: str
    author: str
    repo: str  # owner/name
    number: int
    is_pull: bool
    is_open: bool
    head_sha: str | None  # the PR head in the payload, when the forge sends it

    @classmethod
    def parse(cls, body: bytes) -> CommentEvent:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadPayload(f"body is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise BadPayload("body is not a JSON object")
        try:
            payload = _CONVERTER.structure(data, _Payload)
        except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as error:
            notes = cattrs.transform_error(error) if isinstance(error, cattrs.BaseValidationError) else [str(error)]
            raise BadPayload(f"not an issue_comment payload: {notes[0] if notes else error}") from None
        login = payload.comment.user.login
        if not _LOGIN.fullmatch(login):
            raise BadPayload(f"comment author {login[:40]!r} is not a forge login")
        if not _REPO.fullmatch(payload.repository.full_name) or ".." in payload.repository.full_name:
            raise BadPayload(f"repository {payload.repository.full_name[:80]!r} is not owner/name")
        if payload.comment.id <= 0 or payload.issue.number <= 0:
            raise BadPayload("comment id and issue number must be positive")
        head = payload.pull_request.head if payload.pull_request else None
        sha = head.sha if head and _SHA.fullmatch(head.sha) else None
        return cls(
            action=payload.action,
            comment_id=payload.comment.id,
            body=payload.comment.body,
            author=login,
            repo=payload.repository.full_name,
            number=payload.issue.number,
            is_pull=(
                payload.is_pull
                or payload.pull_request is not None
                or payload.issue.pull_request is not None
            ),
            is_open=payload.issue.state == "open",
            head_sha=sha,
        )

    def where(self) -> str:
        return f"comment {self.comment_id} on {self.repo}#{self.number} by {self.author}"


def is_commit(sha: str) -> bool:
    return bool(_SHA.fullmatch(sha))
