"""The bridge job: the one path every comment takes, and the report back.

A comment starts a build only when all of these hold, checked in this order
(each refusal is one log line and changes nothing): it was just
created (not edited or deleted), it is on an open pull request (not a plain
issue), it is exactly a trigger command, its repository is configured, its
author is trusted (allowlist, or the forge says collaborator / org member; a
forge error is a no), and its id was never claimed before (claimed on disk
now, before anything else happens). Then: the PR head commit, the build request to CI with RECIPE, REF and
MODE, a "queued" commit status and comment on the PR. `report` later turns
each finished build into a final status and comment that name the mode.
"""

from __future__ import annotations

import enum
import logging

import attrs

from ccci.pure import trigger
from ccci.pure.builds import CI, BuildRequest, BuildState, CIError
from ccci.pure.bridge_config import BridgeConfig
from ccci.seams.forge import Forge, ForgeError, StatusState
from ccci.jobs.bridge.page import RunPages
from ccci.jobs.bridge.store import PendingBuild, Store
from ccci.pure.webhook import CommentEvent
from ccci.pure.names import RunId
from ccci.pure.results import Mode

log = logging.getLogger("ccci")


class Disposition(enum.Enum):
    """What became of a comment (its `outcome` in the JSON the server answers)."""

    TRIGGERED = "triggered"
    IGNORED = "ignored"  # not for us: nothing to do
    REFUSED = "refused"  # a trigger we will not act on (replay, untrusted)
    FAILED = "failed"  # a trusted trigger the forge or CI kept us from queueing


@attrs.frozen
class Handled:
    """One comment's disposition and why."""

    disposition: Disposition
    reason: str
    build: int | None = None
    mode: Mode | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "outcome": self.disposition.value,
            "reason": self.reason,
            "build": self.build,
            "mode": self.mode.value if self.mode else None,
        }


def context(mode: Mode) -> str:
    return f"ccci/{mode.value}"


class Bridge:
    def __init__(self, config: BridgeConfig, forge: Forge, ci: CI, store: Store, pages: RunPages | None = None):
        self.config = config
        self.forge = forge
        self.ci = ci
        self.store = store
        self.pages = pages or RunPages(None)  # the status page: refreshed on events, linked from comments
        self._allow = {login.lower() for login in config.allowlist} if config.allowlist is not None else None

    def handle(self, event: CommentEvent) -> Handled:
        outcome = self._decide(event)
        quiet = outcome.disposition in (Disposition.TRIGGERED, Disposition.IGNORED)
        level = logging.INFO if quiet else logging.WARNING
        log.log(level, "%s: %s: %s", event.where(), outcome.disposition.value, outcome.reason)
        if outcome.disposition in (Disposition.TRIGGERED, Disposition.FAILED):
            self.pages.refresh()
        return outcome

    def _decide(self, event: CommentEvent) -> Handled:
        if event.action != "created":
            return Handled(Disposition.IGNORED, f"comment {event.action[:20]!r}, only new comments trigger")
        if not event.is_pull:
            return Handled(Disposition.IGNORED, "comment on a plain issue, not a pull request")
        mode = trigger.parse_comment(event.body)
        if mode is None:
            return Handled(Disposition.IGNORED, "not a trigger command (exactly '!testme' or '!testme --quick')")
        recipe = self.config.recipe_for(event.repo)
        if recipe is None:
            return Handled(Disposition.IGNORED, f"repository {event.repo} is not configured", mode=mode)
        if not event.is_open:
            return Handled(Disposition.IGNORED, "pull request is closed", mode=mode)
        why_not = self._untrusted(event)
        if why_not:
            return Handled(Disposition.REFUSED, why_not, mode=mode)
        # Claimed only now, so a refusal leaves no state behind (and a delivery
        # refused because the forge was down can be redelivered); still before
        # the build, so two deliveries of one comment cannot both start one.
        if not self.store.claim(event.comment_id):
            return Handled(Disposition.REFUSED, "comment id already seen (a replay); nothing started", mode=mode)
        try:
            sha = event.head_sha or self.forge.pull_head(event.repo, event.number)
        except ForgeError as error:
            return Handled(Disposition.FAILED, f"cannot read the PR head: {error}", mode=mode)
        run_id = RunId.new()  # ours to name, so the comment can link the run's page now
        request = BuildRequest(recipe, sha, mode, run_id)
        try:
            build = self.ci.start(request)
        except CIError as error:
            self._tell(event.repo, event.number, sha, mode, StatusState.ERROR,
                       f"could not queue the {mode.value} run", "",
                       f"ccci: could not queue a **{mode.value}** run of `{recipe}` at `{sha[:10]}`: "
                       "the CI system refused it. Comment again to retry.")
            return Handled(Disposition.FAILED, f"CI refused the build: {error}", mode=mode)
        self.store.add_pending(PendingBuild(
            build=build.number, url=build.url, repo=event.repo, pr=event.number, sha=sha,
            recipe=recipe.value, mode=mode, comment_id=event.comment_id, run_id=run_id.value,
        ))
        self._tell(event.repo, event.number, sha, mode, StatusState.PENDING,
                   f"queued: {mode.value} run (build #{build.number})", build.url,
                   f"ccci: queued a **{mode.value}** run of `{recipe}` at `{sha[:10]}`: "
                   f"build [#{build.number}]({build.url})." + self.pages.mention(recipe.value, run_id.value))
        return Handled(Disposition.TRIGGERED, f"{mode.value} run of {recipe} at {sha[:10]}: build #{build.number}",
                       build=build.number, mode=mode)

    def _untrusted(self, event: CommentEvent) -> str:
        """Empty when the author may trigger; else why not. Fails closed."""
        if self._allow is not None:
            if event.author.lower() in self._allow:
                return ""
            return f"{event.author} is not on the allowlist"
        try:
            if self.forge.is_trusted(event.repo, event.author):
                return ""
        except ForgeError as error:
            return f"cannot check {event.author}'s access, failing closed: {error}"
        return f"{event.author} is not a collaborator or member of the owning org"

    def _tell(self, repo: str, pr: int, sha: str, mode: Mode, state: str, description: str,
              url: str, text: str) -> None:
        """Status and comment on the PR; a failure here is logged, never fatal."""
        try:
            self.forge.set_status(repo, sha, state, context(mode), description, url)
            self.forge.comment(repo, pr, text)
        except ForgeError as error:
            log.warning("cannot report on %s#%d: %s", repo, pr, error)

    def report(self) -> list[PendingBuild]:
        """Post the result of every pending build that has ended; return those."""
        done: list[PendingBuild] = []
        for pending in self.store.pending():
            try:
                state = self.ci.state(pending.build)
            except CIError as error:
                log.warning("build #%d: cannot read its state: %s", pending.build, error)
                continue
            if state is BuildState.RUNNING:
                continue
            mode = pending.mode.value
            status, word = {
                BuildState.PASSED: (StatusState.SUCCESS, "passed"),
                BuildState.FAILED: (StatusState.FAILURE, "failed"),
                BuildState.ERRORED: (StatusState.ERROR, "errored"),
            }[state]
            try:
                self.forge.set_status(pending.repo, pending.sha, status, context(pending.mode),
                                      f"{mode} run {word} (build #{pending.build})", pending.url)
                self.forge.comment(pending.repo, pending.pr,
                                   f"ccci: **{mode}** run of `{pending.recipe}` at `{pending.sha[:10]}`: "
                                   f"**{word}**, build [#{pending.build}]({pending.url})."
                                   + self.pages.mention(pending.recipe, pending.run_id))
            except ForgeError as error:
                log.warning("build #%d: cannot report on %s#%d yet: %s",
                            pending.build, pending.repo, pending.pr, error)
                continue
            self.store.finish(pending)
            log.info("build #%d (%s run of %s on %s#%d): %s, reported",
                     pending.build, mode, pending.recipe, pending.repo, pending.pr, word)
            done.append(pending)
        if done:
            self.pages.refresh()
        return done
