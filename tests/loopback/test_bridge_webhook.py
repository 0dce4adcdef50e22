"""The webhook bridge over real HTTP on 127.0.0.1, against loopback stand-ins.

Each refusal case checks three things: the reply, a log line saying why, and
that nothing happened (no build at the stand-in Drone, nothing posted on the
PR, and for requests refused before parsing, no state written).
"""

import http.client
import json
import logging
import threading

import pytest

from ccci.jobs.bridge.store import FILE
from tests.fixtures.bridge import (
    RECIPE, REPO, SECRETS, WEBHOOK_SECRET, issue_comment_payload, run_ids_apart, send_webhook, sha_for,
)

HEAD = sha_for(0xABC)  # PR #3's head in the stand-in forge (see the bridge_world fixture)


@pytest.fixture
def bridge(bridge_world, caplog):
    caplog.set_level(logging.INFO, logger="ccci")
    server, service = bridge_world.start()
    return bridge_world, server.url + "/hook", service


def _nothing_happened(world) -> None:
    assert world.drone.builds == []
    assert world.forge.statuses == [] and world.forge.posted == []


@pytest.mark.parametrize(("body", "mode"), [("!testme", "cold"), ("  !testme --quick\r\n", "quick")])
def test_a_collaborator_comment_starts_exactly_one_build(bridge, caplog, body, mode):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, issue_comment_payload(101, body, "alice"))
    assert (status, reply["outcome"], reply["mode"], reply["build"]) == (202, "triggered", mode, 1)
    assert run_ids_apart(world.drone.builds) == [{"branch": "main", "RECIPE": RECIPE, "REF": HEAD, "MODE": mode}]
    [(repo, sha, queued)] = world.forge.statuses
    assert (repo, sha, queued["state"], queued["context"]) == (REPO, HEAD, "pending", f"ccci/{mode}")
    assert "build #1" in queued["description"] and queued["target_url"].endswith("/coop-cloud/ccci/1")
    [(repo, pr, text)] = world.forge.posted
    assert (repo, pr) == (REPO, 3) and f"queued a **{mode}** run of `{RECIPE}`" in text
    assert f"comment 101 on {REPO}#3 by alice: triggered" in caplog.text


def test_the_ref_is_the_head_the_payload_carried_at_comment_time(bridge):
    world, hook, _ = bridge
    at_comment = sha_for(0xBEEF)  # the forge has moved on to HEAD since
    status, _ = send_webhook(hook, issue_comment_payload(102, "!testme", "alice", head_sha=at_comment))
    assert status == 202 and world.drone.builds[0]["REF"] == at_comment


def test_an_org_member_may_trigger(bridge):
    world, hook, _ = bridge
    world.forge.org_members.add(("coop-cloud", "bob"))
    status, reply = send_webhook(hook, issue_comment_payload(103, "!testme", "bob"))
    assert status == 202 and len(world.drone.builds) == 1


def _refused_before_parsing(world, caplog, status, reply, code, says):
    assert status == code and reply["outcome"] == "rejected" and says in reply["reason"]
    assert says in caplog.text and "refused" in caplog.text
    _nothing_happened(world)
    assert not (world.root / "state" / FILE).exists()  # not even a claim


def test_an_unsigned_request_starts_nothing(bridge, caplog):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, issue_comment_payload(104, "!testme", "alice"), secret=None)
    _refused_before_parsing(world, caplog, status, reply, 401, "unsigned")


@pytest.mark.parametrize("signature", ["0" * 64, "not-hex", "", "sha256=" + "0" * 64])
def test_a_missigned_request_starts_nothing(bridge, caplog, signature):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, issue_comment_payload(105, "!testme", "alice"), signature=signature)
    _refused_before_parsing(world, caplog, status, reply, 401, "signature" if signature else "unsigned")


def test_a_request_signed_with_another_secret_starts_nothing(bridge, caplog):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, issue_comment_payload(106, "!testme", "alice"), secret="guessed")
    _refused_before_parsing(world, caplog, status, reply, 401, "does not match")


def test_an_oversized_body_is_refused_unread(bridge, caplog):
    world, hook, _ = bridge
    payload = issue_comment_payload(107, "!testme", "alice")
    payload["comment"]["original_author"] = "x" * (64 * 1024)  # over the 64 KiB cap in the test config
    status, reply = send_webhook(hook, payload)
    _refused_before_parsing(world, caplog, status, reply, 413, "over the 65536-byte cap")


def test_a_huge_declared_length_is_refused_without_waiting_for_the_body(bridge, caplog):
    world, hook, _ = bridge
    port = int(hook.split(":")[2].split("/")[0])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.putrequest("POST", "/hook")
    connection.putheader("Content-Length", str(10**9))
    connection.putheader("X-Gitea-Event", "issue_comment")
    connection.endheaders()  # and never send the gigabyte
    reply = connection.getresponse()
    assert reply.status == 413 and "over the 65536-byte cap" in json.loads(reply.read())["reason"]
    connection.close()
    assert "refused (413)" in caplog.text
    _nothing_happened(world)


def test_a_body_without_a_length_is_refused(bridge, caplog):
    world, hook, _ = bridge
    port = int(hook.split(":")[2].split("/")[0])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps(issue_comment_payload(108, "!testme", "alice")).encode()
    connection.request("POST", "/hook", body=iter([body]), headers={"X-Gitea-Event": "issue_comment"},
                       encode_chunked=True)
    reply = connection.getresponse()
    assert reply.status == 411 and json.loads(reply.read())["outcome"] == "rejected"
    connection.close()
    assert "no Content-Length" in caplog.text
    _nothing_happened(world)


@pytest.mark.parametrize(("body", "says"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({"action": "created", "comment": {"id": 1}}).encode(), "not an issue_comment payload"),
])
def test_a_signed_but_malformed_body_starts_nothing(bridge, caplog, body, says):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, body)
    assert status == 400 and says in reply["reason"] and says in caplog.text
    _nothing_happened(world)
    assert not (world.root / "state" / FILE).exists()


@pytest.mark.parametrize(("change", "says"), [
    ({"action": "edited"}, "comment 'edited'"),
    ({"action": "deleted"}, "comment 'deleted'"),
    ({"is_pull": False}, "plain issue"),
    ({"state": "closed"}, "pull request is closed"),
    ({"repo": "someone/else"}, "not configured"),
])
def test_edits_deletions_plain_issues_closed_and_unknown_repos_start_nothing(bridge, caplog, change, says):
    world, hook, _ = bridge
    if "repo" in change:
        world.forge.collaborators.add((change["repo"], "alice"))
    status, reply = send_webhook(hook, issue_comment_payload(109, "!testme", "alice", **change))
    assert (status, reply["outcome"]) == (200, "ignored") and says in reply["reason"]
    assert f"comment 109 on {change.get('repo', REPO)}#3 by alice: ignored: " in caplog.text
    _nothing_happened(world)


@pytest.mark.parametrize("body", [
    "!testmexyz", "!testme foo", "!testme  --quick", "!testme --quickx", "please !testme",
    "!testme --quick extra", "!TESTME", "!testme\u00a0", "> !testme",
])
def test_every_non_exact_command_starts_nothing(bridge, caplog, body):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, issue_comment_payload(110, body, "alice"))
    assert (status, reply["outcome"]) == (200, "ignored") and "not a trigger command" in caplog.text
    _nothing_happened(world)


def test_a_replayed_comment_id_starts_nothing_also_after_a_restart(bridge, caplog):
    world, hook, _ = bridge
    payload = issue_comment_payload(111, "!testme", "alice")
    assert send_webhook(hook, payload)[0] == 202
    status, reply = send_webhook(hook, payload)
    assert (status, reply["outcome"]) == (200, "refused") and "already seen" in reply["reason"]
    world.stop()  # the bridge restarts on the same state directory
    server, _ = world.start()
    status, reply = send_webhook(server.url + "/hook", payload)
    assert (status, reply["outcome"]) == (200, "refused") and "already seen" in reply["reason"]
    assert len(world.drone.builds) == 1
    assert caplog.text.count("comment 111 on coop-cloud/custom-html#3 by alice: refused: comment id already seen") == 2


def test_concurrent_deliveries_of_one_comment_start_one_build(bridge):
    world, hook, _ = bridge
    payload = issue_comment_payload(112, "!testme --quick", "alice")
    codes: list[int] = []
    barrier = threading.Barrier(12)

    def deliver() -> None:
        barrier.wait()
        codes.append(send_webhook(hook, payload)[0])

    threads = [threading.Thread(target=deliver) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 11 + [202]
    assert len(world.drone.builds) == 1


def test_a_non_collaborator_starts_nothing(bridge, caplog):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, issue_comment_payload(113, "!testme", "mallory"))
    assert (status, reply["outcome"]) == (200, "refused")
    assert "mallory is not a collaborator or member of the owning org" in caplog.text
    _nothing_happened(world)
    # the forge was asked both questions, and nothing else
    assert not (world.root / "state" / FILE).exists()  # a refusal leaves no state
    asked = [path for _, path in world.forge.requests]
    assert asked == ["/api/v1/repos/coop-cloud/custom-html/collaborators/mallory",
                     "/api/v1/orgs/coop-cloud/members/mallory"]


@pytest.mark.parametrize("failure", [500, 502, 401, 302])
def test_the_forge_failing_during_authorization_fails_closed(bridge, caplog, failure):
    world, hook, _ = bridge
    world.forge.auth_status = failure
    status, reply = send_webhook(hook, issue_comment_payload(114, "!testme", "alice"))
    assert (status, reply["outcome"]) == (200, "refused")
    assert "cannot check alice's access, failing closed" in caplog.text and f"HTTP {failure}" in caplog.text
    _nothing_happened(world)
    # not claimed: once the forge is back, the forge's "redeliver" starts the build
    world.forge.auth_status = None
    status, reply = send_webhook(hook, issue_comment_payload(114, "!testme", "alice"))
    assert status == 202 and len(world.drone.builds) == 1


def test_the_forge_unreachable_during_authorization_fails_closed(bridge, caplog):
    world, hook, _ = bridge
    world.forge.stop()
    status, reply = send_webhook(hook, issue_comment_payload(115, "!testme", "alice"))
    assert (status, reply["outcome"]) == (200, "refused") and "failing closed" in caplog.text
    assert "no reply" in caplog.text
    assert world.drone.builds == []


def test_an_allowlist_replaces_the_forge_check(bridge_world, caplog):
    caplog.set_level(logging.INFO, logger="ccci")
    server, _ = bridge_world.start(allowlist=["Carol"])
    hook = server.url + "/hook"
    assert send_webhook(hook, issue_comment_payload(116, "!testme", "alice"))[1]["outcome"] == "refused"
    assert "alice is not on the allowlist" in caplog.text
    assert send_webhook(hook, issue_comment_payload(117, "!testme", "carol"))[0] == 202
    assert len(bridge_world.drone.builds) == 1
    assert not any("collaborators" in path for _, path in bridge_world.forge.requests)


def test_other_events_are_ignored(bridge, caplog):
    world, hook, _ = bridge
    status, reply = send_webhook(hook, issue_comment_payload(118, "!testme", "alice"), event="push")
    assert (status, reply["outcome"]) == (200, "ignored") and "'push' ignored" in caplog.text
    _nothing_happened(world)


def test_drone_refusing_the_build_is_reported_on_the_pr(bridge, caplog):
    world, hook, _ = bridge
    world.drone.refuse_with = 403
    status, reply = send_webhook(hook, issue_comment_payload(119, "!testme", "alice"))
    assert (status, reply["outcome"]) == (502, "failed") and "CI refused the build: " in caplog.text
    [(_, _, error)] = world.forge.statuses
    assert (error["state"], error["context"]) == ("error", "ccci/cold")
    assert "could not queue a **cold** run" in world.forge.posted[0][2]


@pytest.mark.parametrize(("body", "drone_status", "state", "word"), [
    ("!testme", "success", "success", "passed"),
    ("!testme --quick", "failure", "failure", "failed"),
    ("!testme", "killed", "error", "errored"),
])
def test_the_result_goes_back_to_the_pr_with_its_mode(bridge, body, drone_status, state, word):
    world, hook, service = bridge
    assert send_webhook(hook, issue_comment_payload(120, body, "alice"))[0] == 202
    mode = world.drone.builds[0]["MODE"]
    assert service.report() == []  # still pending: nothing posted yet
    assert len(world.forge.statuses) == 1
    world.drone.finish(1, drone_status)
    [done] = service.report()
    assert done.build == 1 and done.mode.value == mode
    final = world.forge.statuses[-1][2]
    assert (final["state"], final["context"]) == (state, f"ccci/{mode}")
    assert final["description"] == f"{mode} run {word} (build #1)"
    assert f"**{mode}** run of `{RECIPE}` at `{HEAD[:10]}`: **{word}**" in world.forge.posted[-1][2]
    assert service.report() == [] and service.store.pending() == []  # reported once


def test_a_result_the_forge_cannot_take_is_kept_and_retried(bridge):
    world, hook, service = bridge
    send_webhook(hook, issue_comment_payload(121, "!testme", "alice"))
    world.drone.finish(1, "success")
    world.forge.stop()
    assert service.report() == [] and len(service.store.pending()) == 1


def test_the_logs_never_show_a_secret(bridge, caplog):
    world, hook, _ = bridge
    send_webhook(hook, issue_comment_payload(122, "!testme", "alice"))
    send_webhook(hook, issue_comment_payload(123, "!testme", "alice"), secret="wrong")
    world.forge.auth_status = 500
    send_webhook(hook, issue_comment_payload(124, "!testme", "alice"))
    assert caplog.text and not any(secret in caplog.text for secret in SECRETS)
    assert WEBHOOK_SECRET not in (world.root / "state" / FILE).read_text()


def test_healthz_and_unknown_paths(bridge):
    _, hook, _ = bridge
    import urllib.request
    with urllib.request.urlopen(hook.replace("/hook", "/healthz"), timeout=5) as reply:
        assert json.loads(reply.read()) == {"ok": True}
    status, reply = send_webhook(hook.replace("/hook", "/other"), issue_comment_payload(125, "!testme", "alice"))
    assert status == 404 and reply["outcome"] == "rejected"
