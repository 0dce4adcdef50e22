"""The bridge's two ways to run, each also reporting finished builds back.

serve: the webhook endpoint on its own thread, plus a reporter thread that
posts finished builds every poll_interval, until `stop` is set. poll: one
poll cycle and one report pass every poll_interval (or just one, `once`).
A failed report pass is logged and retried on the next one; it never ends
the reporter. The loops stop when `stop` is set (by SIGTERM or SIGINT from
`stop_on_signals`, or by a test).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

import attrs

from ccci.jobs.bridge.page import RunPages
from ccci.jobs.bridge.poller import Poller
from ccci.jobs.bridge.server import WebhookServer
from ccci.jobs.bridge.service import Bridge, Handled
from ccci.jobs.bridge.store import Store
from ccci.pure.bridge_config import BridgeConfig, Secrets
from ccci.pure.config import Config
from ccci.seams.drone import Drone
from ccci.seams.forge import Forge

log = logging.getLogger("ccci")
PAGE_WAIT = 60.0  # seconds a stopping bridge waits for a status page render in progress


def build(config: BridgeConfig, ccci: Config | None = None) -> tuple[Bridge, Secrets]:
    """The bridge and its secrets (read from their files now); `ccci`: ccci's config, for its status page."""
    secrets = Secrets.read(config)
    forge = Forge(config.forge.url, secrets.forge_token, config.http_timeout)
    drone = Drone(config.drone, secrets.drone_token, config.http_timeout)
    return Bridge(config, forge, drone, Store(config.state), RunPages(ccci)), secrets


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _report_loop(bridge: Bridge, stop: threading.Event) -> None:
    while not stop.wait(bridge.config.poll_interval):
        try:
            bridge.report()
        except Exception:  # keep reporting; the next pass retries
            log.exception("reporting results failed")


def serve(config: BridgeConfig, stop: threading.Event, listening: Callable[[str], None],
          ccci: Config | None = None) -> None:
    """Serve webhooks until `stop`; `listening(url)` once the socket is bound."""
    bridge, secrets = build(config, ccci)
    server = WebhookServer((config.listen_address, config.listen_port), bridge, secrets.webhook_secret)
    server.start()
    reporter = threading.Thread(target=_report_loop, args=(bridge, stop), name="ccci-bridge-report", daemon=True)
    reporter.start()
    listening(server.url)
    log.info("listening on %s/hook (%s at %s)", server.url, config.forge.kind.value, config.forge.url)
    stop.wait()
    server.shutdown()
    server.server_close()
    bridge.pages.wait(PAGE_WAIT)
    log.info("stopped")


@attrs.frozen
class PollPass:
    """What one poll cycle and report pass did."""

    outcomes: list[Handled]
    reported: list[int]

    def to_json(self) -> dict[str, object]:
        return {"outcomes": [o.to_json() for o in self.outcomes], "reported": self.reported}


def poll(config: BridgeConfig, stop: threading.Event, once: bool, ccci: Config | None = None) -> PollPass | None:
    """Poll until `stop`; with `once`, one pass, returned."""
    bridge, _ = build(config, ccci)
    poller = Poller(bridge)
    while True:
        outcomes = poller.cycle()
        reported = bridge.report()
        if once:
            bridge.pages.wait(PAGE_WAIT)  # the page shows what this pass did before the process ends
            return PollPass(outcomes, [p.build for p in reported])
        if stop.wait(config.poll_interval):
            bridge.pages.wait(PAGE_WAIT)
            log.info("stopped")
            return None
