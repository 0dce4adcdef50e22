"""Forge and Drone clients, with a recorder standing in at the one HTTP seam.

These assert the exact requests (method, URL, auth header) and how each reply
is read; the integration tests send the same requests over real HTTP.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.seams import http
from ccci.pure.builds import BuildRequest, BuildState, CIError
from ccci.pure.bridge_config import DroneSettings, Secret
from ccci.seams.drone import Drone
from ccci.seams.forge import Forge, ForgeError
from ccci.pure.names import RecipeName
from ccci.pure.results import Mode

TOKEN = Secret("tok-123")


class Seam:
    """Replies in order; records every request."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.sent: list[tuple[str, str, dict, bytes | None]] = []

    def __call__(self, method, url, *, headers, body, timeout):
        self.sent.append((method, url, headers, body))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def forge(seam: Seam) -> Forge:
    return Forge("https://git.example/", TOKEN, 5, call=seam)


def test_a_collaborator_is_trusted_after_one_call():
    seam = Seam(http.Reply(204, b""))
    assert forge(seam).is_trusted("coop-cloud/custom-html", "alice") is True
    assert seam.sent == [("GET", "https://git.example/api/v1/repos/coop-cloud/custom-html/collaborators/alice",
                          {"Authorization": "token tok-123", "Accept": "application/json"}, None)]


def test_an_org_member_is_trusted_and_a_stranger_is_not():
    seam = Seam(http.Reply(404, b""), http.Reply(204, b""))
    assert forge(seam).is_trusted("coop-cloud/custom-html", "bob") is True
    assert seam.sent[1][1] == "https://git.example/api/v1/orgs/coop-cloud/members/bob"
    assert forge(Seam(http.Reply(404, b""), http.Reply(404, b""))).is_trusted("coop-cloud/r", "eve") is False


def test_the_owner_of_a_user_repository_is_trusted_without_asking():
    seam = Seam()
    assert forge(seam).is_trusted("Alice/recipe", "alice") is True and seam.sent == []


@pytest.mark.parametrize("reply", [
    http.Reply(500, b"boom"), http.Reply(401, b""), http.Reply(403, b""), http.Reply(302, b""),
    http.Reply(200, b"{}"), http.Reply(422, b""), http.HttpError("GET x: no reply (refused)"),
])
def test_any_other_answer_fails_closed(reply):
    with pytest.raises(ForgeError):
        forge(Seam(reply)).is_trusted("coop-cloud/r", "alice")
    with pytest.raises(ForgeError):  # and also on the second (org) question
        forge(Seam(http.Reply(404, b""), reply)).is_trusted("coop-cloud/r", "alice")


def test_logins_and_names_are_quoted_into_paths():
    seam = Seam(http.Reply(404, b""), http.Reply(404, b""))
    forge(seam).is_trusted("o/r", "a.b_c-d")
    assert seam.sent[0][1].endswith("/repos/o/r/collaborators/a.b_c-d")


def test_pull_head_reads_a_commit_and_refuses_anything_else():
    sha = "ab" * 20
    seam = Seam(http.Reply(200, json.dumps({"head": {"sha": sha}}).encode()))
    assert forge(seam).pull_head("o/r", 3) == sha
    assert seam.sent[0][:2] == ("GET", "https://git.example/api/v1/repos/o/r/pulls/3")
    for body in ({"head": {"sha": "--upload-pack=x"}}, {"head": None}, []):
        with pytest.raises(ForgeError):
            forge(Seam(http.Reply(200, json.dumps(body).encode()))).pull_head("o/r", 3)


def test_status_and_comment_are_posted_as_json():
    seam = Seam(http.Reply(201, b"{}"), http.Reply(201, b"{}"))
    f = forge(seam)
    f.set_status("o/r", "ab" * 20, "pending", "ccci/quick", "queued", "http://ci/1")
    f.comment("o/r", 3, "hello")
    (m1, u1, h1, b1), (m2, u2, _, b2) = seam.sent
    assert (m1, u1) == ("POST", f"https://git.example/api/v1/repos/o/r/statuses/{'ab' * 20}")
    assert h1["Content-Type"] == "application/json"
    assert json.loads(b1) == {"state": "pending", "context": "ccci/quick", "description": "queued",
                              "target_url": "http://ci/1"}
    assert (m2, u2, json.loads(b2)) == ("POST", "https://git.example/api/v1/repos/o/r/issues/3/comments",
                                        {"body": "hello"})


def drone(seam: Seam) -> Drone:
    return Drone(DroneSettings("https://drone.example", "/t", "coop-cloud/ccci", "main"), TOKEN, 5, call=seam)


def test_a_build_carries_recipe_ref_and_mode():
    seam = Seam(http.Reply(200, b'{"number": 12, "status": "pending"}'))
    build = drone(seam).start(BuildRequest(RecipeName.parse("custom-html"), "cd" * 20, Mode.QUICK))
    assert build.number == 12 and build.url == "https://drone.example/coop-cloud/ccci/12"
    method, url, headers, body = seam.sent[0]
    assert (method, body) == ("POST", None)
    assert url == ("https://drone.example/api/repos/coop-cloud/ccci/builds?branch=main"
                   f"&RECIPE=custom-html&REF={'cd' * 20}&MODE=quick")
    assert headers["Authorization"] == "Bearer tok-123"


@pytest.mark.parametrize("reply", [
    http.Reply(403, b'{"message": "forbidden"}'), http.Reply(200, b"not json"), http.Reply(200, b"{}"),
    http.Reply(200, b'{"number": "7"}'), http.HttpError("POST x: no reply"),
])
def test_a_refused_build_is_a_ci_error(reply):
    with pytest.raises(CIError):
        drone(Seam(reply)).start(BuildRequest(RecipeName.parse("r"), "cd" * 20, Mode.COLD))


@pytest.mark.parametrize(("status", "state"), [
    ("pending", BuildState.RUNNING), ("running", BuildState.RUNNING), ("success", BuildState.PASSED),
    ("failure", BuildState.FAILED), ("error", BuildState.ERRORED), ("killed", BuildState.ERRORED),
])
def test_drone_statuses_map_to_build_states(status, state):
    seam = Seam(http.Reply(200, json.dumps({"number": 4, "status": status}).encode()))
    assert drone(seam).state(4) is state
    assert seam.sent[0][1] == "https://drone.example/api/repos/coop-cloud/ccci/builds/4"


def test_an_unknown_drone_status_is_an_error_not_a_verdict():
    with pytest.raises(CIError, match="unknown status"):
        drone(Seam(http.Reply(200, b'{"status": "mystery"}'))).state(4)


def test_errors_never_carry_the_token():
    for client_call in (lambda s: forge(s).is_trusted("o/r", "x"), lambda s: drone(s).state(1)):
        with pytest.raises((ForgeError, CIError)) as caught:
            client_call(Seam(http.Reply(500, b"tok-123")))
        assert "tok-123" not in str(caught.value)


class _PagedPulls:
    """Gitea's pull list: `limit` capped at the server's MAX_RESPONSE_ITEMS, as ToCorrectPageSize does."""

    def __init__(self, count: int, cap: int):
        self.pulls = [{"number": n, "head": {"sha": f"{n:040x}"}} for n in range(1, count + 1)]
        self.cap = cap
        self.calls = 0

    def __call__(self, method, url, *, headers, body, timeout):
        import urllib.parse
        self.calls += 1
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        size = min(int(query["limit"]), self.cap)
        page = int(query["page"])
        return http.Reply(200, json.dumps(self.pulls[(page - 1) * size: page * size]).encode())


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 260), cap=st.integers(1, 80))
def test_every_open_pull_is_read_whatever_page_size_the_forge_allows(count, cap):
    """A forge whose MAX_RESPONSE_ITEMS is below our `limit` answers short pages that are not the last."""
    server = _PagedPulls(count, cap)
    pulls = Forge("https://git.example", TOKEN, 5, call=server).open_pulls("o/r")
    assert [p.number for p in pulls] == list(range(1, count + 1))
    assert server.calls == -(-count // min(cap, 50)) + 1  # every page, then the empty one
