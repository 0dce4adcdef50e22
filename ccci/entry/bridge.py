"""ccci-bridge: start builds from `!testme` comments on pull requests.

    ccci-bridge serve [--config PATH]          webhook endpoint (POST /hook)
    ccci-bridge poll  [--config PATH] [--once] poll open PRs instead of webhooks
    ccci-bridge check COMMENT                  which mode a comment asks for

Both modes also report finished builds back on their PR every poll_interval.
stdout: `serve` prints one JSON line with the address it listens on; `poll
--once` prints the cycle's outcomes as JSON; `check` prints {"mode": ...}.
Logs go to stderr. Exit 0 on a clean stop (SIGTERM/SIGINT), 2 on bad config
or arguments (one line, nothing started), 1 on any other error.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from ccci.pure import trigger
from ccci.pure import bridge_config as config_mod
from ccci.seams.drone import Drone
from ccci.seams.forge import Forge
from ccci.jobs.bridge.poller import Poller
from ccci.jobs.bridge.server import WebhookServer
from ccci.jobs.bridge.service import Bridge
from ccci.jobs.bridge.store import Store
from ccci.pure.names import BadInput

log = logging.getLogger("ccci")


def setup_logging(debug: bool) -> None:
    # Not ccci.entry.run's: the bridge must not import the run jobs (docker, abra).
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="ccci-bridge: %(message)s",
        stream=sys.stderr,
        force=True,
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise BadInput(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ccci-bridge", description="Start ccci builds from !testme comments.")
    p.add_argument("--debug", action="store_true", help="show tracebacks and every HTTP call")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, text in (("serve", "serve forge webhooks"), ("poll", "poll the forge for comments")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--config", type=Path, default=config_mod.DEFAULT_PATH,
                       help="bridge config (default: %(default)s)")
        s.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
        if name == "poll":
            s.add_argument("--once", action="store_true", help="one poll cycle and one report pass, then exit")
    c = sub.add_parser("check", help="say which mode a comment asks for (no I/O)")
    c.add_argument("comment")
    return p


def build(config: config_mod.BridgeConfig) -> tuple[Bridge, config_mod.Secrets]:
    secrets = config_mod.Secrets.read(config)
    forge = Forge(config.forge.url, secrets.forge_token, config.http_timeout)
    drone = Drone(config.drone, secrets.drone_token, config.http_timeout)
    return Bridge(config, forge, drone, Store(config.state)), secrets


def _stop_on_signals() -> threading.Event:
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


def serve(config: config_mod.BridgeConfig) -> int:
    bridge, secrets = build(config)
    server = WebhookServer((config.listen_address, config.listen_port), bridge, secrets.webhook_secret)
    stop = _stop_on_signals()
    server.start()
    reporter = threading.Thread(target=_report_loop, args=(bridge, stop), name="ccci-bridge-report", daemon=True)
    reporter.start()
    print(json.dumps({"listening": server.url, "hook": server.url + "/hook"}), flush=True)
    log.info("listening on %s/hook (%s at %s)", server.url, config.forge.kind.value, config.forge.url)
    stop.wait()
    server.shutdown()
    server.server_close()
    log.info("stopped")
    return 0


def poll(config: config_mod.BridgeConfig, once: bool) -> int:
    bridge, _ = build(config)
    poller = Poller(bridge)
    stop = _stop_on_signals()
    while True:
        outcomes = poller.cycle()
        reported = bridge.report()
        if once:
            print(json.dumps({
                "outcomes": [o.to_json() for o in outcomes],
                "reported": [p.build for p in reported],
            }, indent=2))
            return 0
        if stop.wait(config.poll_interval):
            log.info("stopped")
            return 0


def main(argv: list[str] | None = None) -> int:
    args_list = argv if argv is not None else sys.argv[1:]
    debug = "--debug" in args_list
    setup_logging(debug)
    try:
        args = parser().parse_args(args_list)
        if args.command == "check":
            mode = trigger.parse_comment(args.comment)
            print(json.dumps({"mode": mode.value if mode else None}))
            return 0
        config = config_mod.load(args.config)
        if args.command == "serve":
            return serve(config)
        return poll(config, args.once)
    except BadInput as error:
        print(f"ccci-bridge: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if debug:
            raise
        print(f"ccci-bridge: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
