"""Polling mode, for hosts the forge cannot reach: the same path as webhooks.

Each cycle lists every configured repository's open pull requests and their
comments, and hands each comment newer than that PR's cursor to
`Bridge.handle` as the event a webhook would have delivered (an edited
comment reads as `edited`, so it does not trigger). On the first cycle for a
repository every existing comment is marked read and nothing is started: a
bridge switched on next to old `!testme` comments must not act on them. The
comment-id claim in the store still guards against a comment being acted on
twice (by a webhook and the poller, or across restarts).
"""

from __future__ import annotations

import logging

from ccci.seams.forge import ForgeError, polled_event
from ccci.jobs.bridge.service import Bridge, Handled

log = logging.getLogger("ccci")


class Poller:
    def __init__(self, bridge: Bridge):
        self.bridge = bridge

    def cycle(self) -> list[Handled]:
        outcomes: list[Handled] = []
        for repo in self.bridge.config.repos:
            try:
                outcomes.extend(self._repo(repo))
            except ForgeError as error:
                log.warning("poll %s: %s; trying again next cycle", repo, error)
        return outcomes

    def _repo(self, repo: str) -> list[Handled]:
        forge, store = self.bridge.forge, self.bridge.store
        primed = store.primed(repo)
        pulls = forge.open_pulls(repo)
        cursors: dict[int, int] = {}
        outcomes: list[Handled] = []
        for pull in pulls:
            cursor = store.cursor(repo, pull.number) if primed else 0
            comments = forge.comments(repo, pull.number)
            newest = max((c.id for c in comments), default=0)
            cursors[pull.number] = max(cursor, newest)
            if not primed:
                continue
            for comment in sorted(comments, key=lambda c: c.id):
                if comment.id > cursor:
                    outcomes.append(self.bridge.handle(polled_event(repo, pull, comment)))
                    # move the cursor past each comment as it is handled, so a crash
                    # mid-PR does not hand the same comments over again
                    store.advance(repo, pull.number, comment.id)
        if not primed:
            log.info("poll %s: first cycle, %d open PR(s); existing comments marked read", repo, len(pulls))
        store.set_cursors(repo, cursors)
        return outcomes
