"""Webhook signature and payload: pure checks, before anything is acted on."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.pure.bridge_config import ForgeKind
from ccci.pure.webhook import BadPayload, BadSignature, CommentEvent, sign, verify
from tests.fixtures.bridge import issue_comment_payload, sha_for

SECRET = "hook-secret"


@given(st.binary(max_size=2048), st.text(min_size=1, max_size=64))
def test_a_body_signed_with_the_secret_verifies(body, secret):
    verify({"X-Gitea-Signature": sign(body, secret)}, body, secret, ForgeKind.GITEA)


@given(st.binary(min_size=1, max_size=512), st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_change_to_the_body_breaks_the_signature(body, where, flip):
    signature = sign(body, SECRET)
    at = where % len(body)
    tampered = body[:at] + bytes([body[at] ^ flip]) + body[at + 1:]
    with pytest.raises(BadSignature, match="does not match"):
        verify({"X-Gitea-Signature": signature}, tampered, SECRET, ForgeKind.GITEA)


@pytest.mark.parametrize(("headers", "says"), [
    ({}, "unsigned"),
    ({"X-Gitea-Signature": ""}, "unsigned"),
    ({"X-Gitea-Signature": "0" * 64}, "does not match"),
    ({"X-Gitea-Signature": "zz"}, "does not match"),
    ({"X-Gitea-Signature": "ünïcödé"}, "does not match"),
    ({"X-Gitea-Signature": sign(b"{}", "other-secret")}, "does not match"),
    # GitHub's header is not Gitea's; a forged one in its place is no signature at all
    ({"X-Hub-Signature-256": "sha256=" + sign(b"{}", SECRET)}, "unsigned"),
])
def test_unsigned_or_missigned_requests_are_refused(headers, says):
    with pytest.raises(BadSignature, match=says):
        verify(headers, b"{}", SECRET, ForgeKind.GITEA)


def test_header_names_are_case_insensitive_and_forgejo_has_its_own():
    verify({"x-gitea-signature": sign(b"{}", SECRET)}, b"{}", SECRET, ForgeKind.GITEA)
    verify({"X-Forgejo-Signature": sign(b"{}", SECRET)}, b"{}", SECRET, ForgeKind.FORGEJO)
    with pytest.raises(BadSignature):
        verify({"X-Forgejo-Signature": sign(b"{}", SECRET)}, b"{}", SECRET, ForgeKind.GITEA)


def _parse(payload: dict) -> CommentEvent:
    return CommentEvent.parse(json.dumps(payload).encode())


def test_a_gitea_pull_request_comment_is_read():
    event = _parse(issue_comment_payload(42, "!testme", "alice", number=7, head_sha=sha_for(1)))
    assert event == CommentEvent(
        action="created", comment_id=42, body="!testme", author="alice", repo="coop-cloud/custom-html",
        number=7, is_pull=True, is_open=True, head_sha=sha_for(1),
    )


def test_plain_issues_edits_and_closed_prs_read_as_such():
    assert not _parse(issue_comment_payload(1, "!testme", "a", is_pull=False)).is_pull
    assert _parse(issue_comment_payload(1, "!testme", "a", action="edited")).action == "edited"
    assert not _parse(issue_comment_payload(1, "!testme", "a", state="closed")).is_open
    # older forges send no pull_request object: the head is then asked for
    assert _parse(issue_comment_payload(1, "!testme", "a")).head_sha is None


def _broken(change) -> bytes:
    payload = issue_comment_payload(42, "!testme", "alice")
    change(payload)
    return json.dumps(payload).encode()


@pytest.mark.parametrize(("body", "says"), [
    (b"", "not JSON"),
    (b"{", "not JSON"),
    (b"\xff\xfe\x00", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'"!testme"', "not a JSON object"),
    (_broken(lambda p: p.pop("comment")), "comment"),
    (_broken(lambda p: p["comment"].update(id="42")), "comment.id"),
    (_broken(lambda p: p["comment"].update(id=True)), "comment.id"),
    (_broken(lambda p: p["comment"].update(body=None)), "comment.body"),
    (_broken(lambda p: p["comment"]["user"].update(login="../admin")), "not a forge login"),
    (_broken(lambda p: p["repository"].update(full_name="../../etc")), "not owner/name"),
    (_broken(lambda p: p["issue"].update(number=-1)), "positive"),
    (_broken(lambda p: p.update(is_pull="yes")), "is_pull"),
])
def test_malformed_payloads_are_one_clear_line(body, says):
    with pytest.raises(BadPayload) as caught:
        CommentEvent.parse(body)
    assert says in str(caught.value) and "\n" not in str(caught.value)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_in_one_line_never_crash(body):
    try:
        event = CommentEvent.parse(body)
    except BadPayload as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert isinstance(event, CommentEvent)
