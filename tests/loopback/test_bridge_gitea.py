"""The bridge against a real Gitea (the test bed's, tests/bed/gitea), as `ccci-bridge` processes.

Everything forge-side is real: Gitea delivers its own signed webhooks to
`ccci-bridge serve` (or, with no webhook, `ccci-bridge poll` reads its API),
the bridge asks Gitea's collaborator and org-member endpoints with a token
of only the documented scopes, and posts the commit status and comment back;
the tests read those back from Gitea's API. Only the CI side is the loopback
Drone stand-in (no Drone server can be had here).

The four commenters of issue 15: (a) a repository collaborator and (b) an
org member who is not a collaborator may trigger; (c) a stranger may not;
(d) an edited comment never triggers. Plus: a webhook signed with the wrong
secret (set in Gitea's webhook settings) is refused.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ccci.jobs.bridge.store import FILE
from ccci.pure.bridge_config import Secret
from ccci.seams.forge import Forge, ForgeError
from tests.fixtures.bridge import DRONE_REPO, DRONE_TOKEN, DroneStandIn, run_ids_apart
from tests.fixtures.gitea import RECIPE, PullRequestWorld

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, seconds: float = 20.0, what: str = "it") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"gave up waiting {seconds}s for {what}")


class Bridge:
    """The bridge's config and secret files for one PR world, and its processes."""

    def __init__(self, root: Path, world: PullRequestWorld, drone: DroneStandIn):
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.world = world
        self.secret = secrets.token_hex(16)
        files = {"forge-token": world.bot_token, "webhook-secret": self.secret, "drone-token": DRONE_TOKEN}
        for name, value in files.items():
            (root / name).write_text(value + "\n")
        self.config = root / "bridge.json"
        self.config.write_text(json.dumps({
            "listen_address": "127.0.0.1",
            "listen_port": 0,
            "forge": {"kind": "gitea", "url": world.gitea.url, "token_file": str(root / "forge-token"),
                      "webhook_secret_file": str(root / "webhook-secret")},
            "drone": {"url": drone.url, "token_file": str(root / "drone-token"), "repo": DRONE_REPO},
            "repos": {world.repo: RECIPE},
            "state_dir": str(root / "state"),
            "poll_interval": 0.2,
            "http_timeout": 10,
        }))
        self.process: subprocess.Popen | None = None
        self.log: list[str] = []

    def _argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ccci.entry.bridge", *args, "--config", str(self.config)]

    def serve(self) -> str:
        """`ccci-bridge serve` in the background; its hook URL. Its stderr lines collect in `log`."""
        self.process = subprocess.Popen(
            self._argv("serve"), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        line = self.process.stdout.readline()
        if not line:
            self.process.kill()
            pytest.fail(f"ccci-bridge did not start: {self.process.stderr.read()}")
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()
        return json.loads(line)["hook"]

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)

    def logged(self, text: str) -> bool:
        return any(text in line for line in list(self.log))

    def poll_once(self) -> list[dict]:
        done = subprocess.run(self._argv("poll", "--once"), cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        self.log.extend(done.stderr.splitlines())
        return json.loads(done.stdout)["outcomes"]


@pytest.fixture(scope="module")
def drone():
    stand_in = DroneStandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def served(gitea_pull, drone, tmp_path_factory):
    """`ccci-bridge serve`, and Gitea's webhook to it on the recipe repository."""
    bridge = Bridge(tmp_path_factory.mktemp("serve"), gitea_pull, drone)
    hook_url = bridge.serve()
    hook = gitea_pull.add_hook(hook_url, bridge.secret)
    yield bridge, hook
    assert bridge.stop() == 0


def _line(world: PullRequestWorld, comment: int, login: str, number: int | None = None) -> str:
    return f"comment {comment} on {world.repo}#{number or world.number} by {login}: "


def _said(bridge: Bridge, world: PullRequestWorld, comment: int, login: str, number: int | None = None) -> str:
    """What the bridge logged for a comment (exactly one line), after the prefix."""
    start = _line(world, comment, login, number)
    [line] = [line for line in bridge.log if start in line]
    return line[line.index(start) + len(start):].strip()


def _handled(bridge: Bridge, world: PullRequestWorld, comment: int, login: str, seconds: float = 20) -> str:
    """The bridge's log line for a comment, once the webhook has arrived."""
    start = _line(world, comment, login)
    _wait_for(lambda: bridge.logged(start), seconds, f"the bridge's line for comment {comment}")
    return _said(bridge, world, comment, login)


def _ours(statuses: list[dict]) -> list[tuple[str, str]]:
    return [(s["context"], s["status"]) for s in statuses]


@pytest.mark.parametrize(("who", "text", "mode"), [
    ("collaborator", "!testme", "cold"),
    ("member", "  !testme --quick\r\n", "quick"),  # what a comment box may add around it
])
def test_webhook_a_collaborator_or_org_member_triggers_and_the_status_lands_on_the_head(served, drone, who, text,
                                                                                      mode):
    bridge, _ = served
    world = bridge.world
    login = getattr(world, who)
    builds = len(drone.builds)
    comment = world.comment(login, text)
    said = _handled(bridge, world, comment, login)
    assert said.startswith(f"triggered: {mode} run of {RECIPE} at {world.head[:10]}"), said
    assert run_ids_apart(drone.builds[builds:]) == [{"branch": "main", "RECIPE": RECIPE, "REF": world.head, "MODE": mode}]
    number = builds + 1
    # read back from Gitea: the pending status on the PR head and the bot's comment
    _wait_for(lambda: (f"ccci/{mode}", "pending") in _ours(world.statuses()), what="the pending status")
    pending = [s for s in world.statuses() if s["context"] == f"ccci/{mode}"][-1]
    assert pending["description"] == f"queued: {mode} run (build #{number})"
    assert pending["target_url"] == f"{drone.url}/{DRONE_REPO}/{number}"
    assert pending["creator"]["login"] == world.bot
    assert any(f"queued a **{mode}** run of `{RECIPE}` at `{world.head[:10]}`" in c for c in world.bot_comments())
    # the build ends: the reporter posts the final status and comment
    drone.finish(number, "success")
    _wait_for(lambda: (f"ccci/{mode}", "success") in _ours(world.statuses()), what="the final status")
    final = [s for s in world.statuses() if s["context"] == f"ccci/{mode}"][-1]
    assert (final["status"], final["description"]) == ("success", f"{mode} run passed (build #{number})")
    combined = world.gitea.call("GET", f"/repos/{world.repo}/commits/{world.head}/status")
    assert {s["context"]: s["status"] for s in combined["statuses"]}[f"ccci/{mode}"] == "success"
    _wait_for(lambda: any(f"**{mode}** run of `{RECIPE}` at `{world.head[:10]}`: **passed**" in c
                          for c in world.bot_comments()), what="the result comment")


def test_webhook_a_stranger_is_refused_and_nothing_is_posted(served, drone):
    bridge, _ = served
    world = bridge.world
    builds, statuses, comments = len(drone.builds), world.statuses(), world.bot_comments()
    comment = world.comment(world.stranger, "!testme")
    said = _handled(bridge, world, comment, world.stranger)
    assert said == f"refused: {world.stranger} is not a collaborator or member of the owning org"
    assert len(drone.builds) == builds
    state = json.loads((bridge.root / "state" / FILE).read_text())
    assert comment not in state["seen"]  # a refusal claims nothing
    assert world.statuses() == statuses and world.bot_comments() == comments


def test_webhook_an_edited_comment_never_triggers(served, drone):
    bridge, _ = served
    world = bridge.world
    login = world.collaborator
    # a trigger, edited afterwards: one build, not two
    builds = len(drone.builds)
    trigger = world.comment(login, "!testme")
    assert _handled(bridge, world, trigger, login).startswith("triggered: cold run")
    world.edit(login, trigger, "!testme --quick")
    # a remark edited into a trigger: nothing
    remark = world.comment(login, "looks good")
    assert _handled(bridge, world, remark, login).startswith("ignored: not a trigger command")
    world.edit(login, remark, "!testme")
    _wait_for(lambda: sum(_line(world, c, login) in line for line in list(bridge.log) for c in (trigger, remark)) == 4,
              what="the two edit deliveries")
    edits = [line for line in bridge.log if "ignored: comment 'edited'" in line]
    assert any(_line(world, trigger, login) in line for line in edits)
    assert any(_line(world, remark, login) in line for line in edits)
    assert len(drone.builds) == builds + 1


def test_webhook_signed_with_the_wrong_secret_is_refused(served, drone):
    bridge, hook = served
    world = bridge.world
    builds = len(drone.builds)
    url = world.gitea.call("GET", f"/repos/{world.repo}/hooks/{hook}")["config"]["url"]
    world.remove_hook(hook)
    wrong = world.add_hook(url, "not-" + bridge.secret)
    try:
        refusals = sum("refused (401): signature does not match the body" in line for line in list(bridge.log))
        comment = world.comment(world.collaborator, "!testme")
        _wait_for(lambda: sum("refused (401): signature does not match the body" in line
                              for line in list(bridge.log)) == refusals + 1, what="the 401")
    finally:
        world.remove_hook(wrong)
    assert not bridge.logged(_line(world, comment, world.collaborator))  # never parsed
    assert len(drone.builds) == builds
    # with the right secret again, Gitea's next delivery is accepted
    world.add_hook(url, bridge.secret)
    again = world.comment(world.collaborator, "!testme --quick")
    assert _handled(bridge, world, again, world.collaborator).startswith("triggered: quick run")


def test_poll_the_four_commenters_without_webhooks(gitea, drone, tmp_path):
    """Polling mode on a repository with no webhook: `ccci-bridge poll --once` as cron would run it."""
    from tests.fixtures.gitea import make_world, remove_world

    world = make_world(gitea)
    try:
        assert world.gitea.call("GET", f"/repos/{world.repo}/hooks") == []
        bridge = Bridge(tmp_path, world, drone)
        before = world.comment(world.collaborator, "!testme")  # written before the bridge was switched on
        assert bridge.poll_once() == []  # first cycle: existing comments are marked read
        builds = len(drone.builds)
        # a trigger the poller will have read, edited afterwards: not read again
        trigger = world.comment(world.collaborator, "!testme")
        # Gitea's timestamps have whole seconds: an edit is visible as one only
        # a second after the comment was written (see docs/bridge.md)
        remark = world.comment(world.collaborator, "looks good")
        time.sleep(1.1)
        world.edit(world.collaborator, remark, "!testme")
        member = world.comment(world.member, "!testme --quick")
        stranger = world.comment(world.stranger, "!testme")
        inexact = world.comment(world.collaborator, "!testme  --quick")
        second = world.open_pull("second")  # opened after the first cycle
        other = world.comment(world.collaborator, "!testme", number=second.number)
        outcomes = bridge.poll_once()
        assert sorted((o["outcome"], o["mode"] or "") for o in outcomes) == [
            ("ignored", ""), ("ignored", ""), ("refused", "cold"),
            ("triggered", "cold"), ("triggered", "cold"), ("triggered", "quick"),
        ], outcomes
        assert _said(bridge, world, trigger, world.collaborator).startswith("triggered: cold run")
        assert _said(bridge, world, remark, world.collaborator).startswith("ignored: comment 'edited'")
        assert _said(bridge, world, member, world.member).startswith("triggered: quick run")
        assert _said(bridge, world, stranger, world.stranger) == (
            f"refused: {world.stranger} is not a collaborator or member of the owning org")
        assert _said(bridge, world, inexact, world.collaborator).startswith("ignored: not a trigger command")
        assert _said(bridge, world, other, world.collaborator, second.number).startswith(
            f"triggered: cold run of {RECIPE} at {second.head[:10]}")
        assert sorted(run_ids_apart(drone.builds[builds:]), key=lambda b: (b["REF"] == second.head, b["MODE"])) == [
            {"branch": "main", "RECIPE": RECIPE, "REF": world.head, "MODE": "cold"},
            {"branch": "main", "RECIPE": RECIPE, "REF": world.head, "MODE": "quick"},
            {"branch": "main", "RECIPE": RECIPE, "REF": second.head, "MODE": "cold"},
        ]
        first = {b["MODE"]: n for n, b in enumerate(drone.builds, 1) if b["REF"] == world.head and n > builds}
        assert not bridge.logged(_line(world, before, world.collaborator))
        assert sorted(_ours(world.statuses())) == [("ccci/cold", "pending"), ("ccci/quick", "pending")]
        # an edit of a comment already read, then the builds end
        time.sleep(1.1)
        world.edit(world.collaborator, trigger, "!testme --quick")
        drone.finish(first["cold"], "failure")
        drone.finish(first["quick"], "success")
        # no comment is read twice: what is new are the bot's own "queued" comments
        # (on the real forge the bridge reads what it wrote; they are not commands)
        again = bridge.poll_once()
        assert [o["outcome"] for o in again] == ["ignored"] * 3, again
        bots = [line for line in bridge.log if f" by {world.bot}: " in line]
        assert len(bots) == 3 and all("ignored: not a trigger command" in line for line in bots)
        assert sum(_line(world, trigger, world.collaborator) in line for line in bridge.log) == 1
        assert len(drone.builds) == builds + 3
        latest = {s["context"]: s["status"] for s in world.statuses()}
        assert latest == {"ccci/cold": "failure", "ccci/quick": "success"}
        texts = world.bot_comments()
        assert sum("**cold** run" in t and "**failed**" in t for t in texts) == 1
        assert sum("**quick** run" in t and "**passed**" in t for t in texts) == 1
    finally:
        remove_world(world)


def test_a_token_of_a_non_member_cannot_tell_org_members_and_fails_closed(gitea_pull):
    """Gitea redirects a non-member's membership question to the public member list (303): an error, not a no."""
    world = gitea_pull
    outsider = world.make_bot("outsider")  # a collaborator with write access, not in the org
    forge = Forge(world.gitea.url, Secret(outsider), 10)
    assert forge.is_trusted(world.repo, world.collaborator) is True
    with pytest.raises(ForgeError, match="HTTP 303"):
        forge.is_trusted(world.repo, world.member)
    # the org's bot token answers both
    bot = Forge(world.gitea.url, Secret(world.bot_token), 10)
    assert bot.is_trusted(world.repo, world.member) is True
    assert bot.is_trusted(world.repo, world.stranger) is False
    # the PR head as the API gives it (used when a payload carries none)
    assert bot.pull_head(world.repo, world.number) == world.head
    # a login that is not there (a deleted account): 422 from the collaborator check, not a 404
    with pytest.raises(ForgeError, match="HTTP 422"):
        bot.is_trusted(world.repo, f"gone-{world.org}")
