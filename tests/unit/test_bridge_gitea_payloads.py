"""Webhooks as the real Gitea 1.24.6 delivered them (captured from the test bed's Gitea).

tests/unit/data/gitea-1.24.6-pull_request_comment-{created,edited}.json are
the raw bodies, byte for byte, of the deliveries for a `!testme` comment by a
collaborator on PR #1 of ccci-b7e815/custom-html and for its edit to
`!testme --quick`; the .headers.json beside each holds the headers Gitea sent
(X-Gitea-*, X-Gogs-*, X-Hub-*; signed with the secret below). These pin the
payload parser and the signature check to Gitea's real output, not to our
idea of it (the stand-in's payloads are in tests/fixtures/bridge.py).
"""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.pure.bridge_config import ForgeKind
from ccci.pure.webhook import EVENT, BadSignature, CommentEvent, event_name, verify

DATA = Path(__file__).parent / "data"
SECRET = "gitea-fixture-secret"  # the hook's secret when these were captured
HEAD = "198acb10738df8bfa6c5b602329fdce64ce0577f"


def _delivery(name: str) -> tuple[dict[str, str], bytes]:
    stem = f"gitea-1.24.6-pull_request_comment-{name}"
    return json.loads((DATA / f"{stem}.headers.json").read_text()), (DATA / f"{stem}.json").read_bytes()


@pytest.mark.parametrize("name", ["created", "edited"])
def test_gitea_signs_the_raw_body_as_we_check_it(name):
    headers, body = _delivery(name)
    verify(headers, body, SECRET, ForgeKind.GITEA)
    assert event_name(headers, ForgeKind.GITEA) == EVENT
    assert headers["X-Gitea-Event-Type"] == "pull_request_comment"
    with pytest.raises(BadSignature):
        verify(headers, body, "not-" + SECRET, ForgeKind.GITEA)


def test_a_created_pr_comment_reads_as_a_trigger_with_its_head():
    _, body = _delivery("created")
    event = CommentEvent.parse(body)
    assert event == CommentEvent(
        action="created", comment_id=144, body="!testme", author="alice-b7e815",
        repo="ccci-b7e815/custom-html", number=1, is_pull=True, is_open=True, head_sha=HEAD,
    )


def test_an_edit_reads_as_edited():
    _, body = _delivery("edited")
    event = CommentEvent.parse(body)
    assert (event.action, event.comment_id, event.body) == ("edited", 144, "!testme --quick")


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_changed_byte_of_a_real_delivery_is_refused(data):
    headers, body = _delivery("created")
    at = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = body[:at] + bytes([body[at] ^ flip]) + body[at + 1:]
    with pytest.raises(BadSignature):
        verify(headers, changed, SECRET, ForgeKind.GITEA)
