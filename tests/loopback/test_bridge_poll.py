"""Polling mode against the stand-in forge: only the outage a real Gitea cannot be made to have.

The four commenters, priming, edits and result reporting in polling mode run
against the real Gitea (tests/loopback/test_bridge_gitea.py).
"""

import logging

import pytest

from ccci.jobs.bridge.poller import Poller


@pytest.fixture
def poller(bridge_world, caplog):
    caplog.set_level(logging.INFO, logger="ccci")
    _, service = bridge_world.start()
    return bridge_world, Poller(service), service


def test_a_forge_outage_skips_the_cycle_and_starts_nothing(poller, caplog):
    """Stand-in: the membership check failing with 500 between two cycles cannot be made to happen in Gitea."""
    world, poll, _ = poller
    poll.cycle()
    world.forge.add_comment(3, "!testme", "alice")
    world.forge.auth_status = 500
    [outcome] = poll.cycle()
    assert outcome.disposition.value == "refused" and "failing closed" in outcome.reason
    assert world.drone.builds == []
