"""ccci-bridge: start builds from `!testme` comments on pull requests.

    ccci-bridge serve [--config PATH]          webhook endpoint (POST /hook)
    ccci-bridge poll  [--config PATH] [--once] poll open PRs instead of webhooks
    ccci-bridge check COMMENT                  which mode a comment asks for

Both modes also report finished builds back on their PR every poll_interval
(the loops are `ccci.jobs.bridge.modes`). stdout: `serve` prints one JSON
line with the address it listens on; `poll --once` prints the cycle's
outcomes as JSON; `check` prints {"mode": ...}. Logs go to stderr. Exit 0 on
a clean stop (SIGTERM/SIGINT), 2 on bad config or arguments (one line,
nothing started), 1 on any other error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ccci.entry.common import BRIDGE_CONFIG_PATH, Arg, Command, Sub, config_arg, load_bridge_config, load_config

_CONFIG = config_arg(BRIDGE_CONFIG_PATH, env=None)
_DEBUG = Arg("--debug", action="store_true", help=argparse.SUPPRESS)  # also accepted after the subcommand

COMMAND = Command(
    "ccci-bridge", "Start ccci builds from !testme comments.",
    Arg("--debug", action="store_true", help="show tracebacks and every HTTP call"),
    Sub("serve", "serve forge webhooks", _CONFIG, _DEBUG),
    Sub("poll", "poll the forge for comments", _CONFIG, _DEBUG,
        Arg("--once", action="store_true", help="one poll cycle and one report pass, then exit")),
    Sub("check", "say which mode a comment asks for (no I/O)", Arg("comment")),
    log_tag="ccci-bridge",
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args: argparse.Namespace) -> int:
    if args.command == "check":
        from ccci.pure import trigger

        mode = trigger.parse_comment(args.comment)
        print(json.dumps({"mode": mode.value if mode else None}))
        return 0
    config = load_bridge_config(args.config)
    # ccci's own config, read now so a bad one stops the start (exit 2): its status page.
    ccci = load_config(Path(config.ccci_config)) if config.ccci_config else None
    # The bridge must not import the run jobs (docker, abra): only its own.
    from ccci.jobs.bridge import modes

    stop = modes.stop_on_signals()
    if args.command == "serve":
        def listening(url: str) -> None:
            print(json.dumps({"listening": url, "hook": url + "/hook"}), flush=True)

        modes.serve(config, stop, listening, ccci)
        return 0
    done = modes.poll(config, stop, args.once, ccci)
    if done is not None:
        print(json.dumps(done.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
