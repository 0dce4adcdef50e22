"""ccci-status: render the operator's status page from the state directory.

    ccci-status [--config FILE] [--out DIR] [--debug]

Writes index.html, one page per run and status.json into `status_page.dir`
(or DIR), swapped in atomically (docs/status.md). Prints the folder on
stdout. Exit 0 when rendered; 1 when it could not be (the reason is on
stderr); 2 on bad input (no status_page configured and no --out).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ccci.entry.common import DEBUG, Arg, Command, config_arg, load_config
from ccci.pure.names import BadInput

COMMAND = Command(
    "ccci-status", "Render the ccci status page (a static site).",
    config_arg(),
    Arg("--out", type=Path, help="render here instead of the config's status_page.dir"),
    DEBUG,
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args) -> int:
    from ccci.capabilities import status_page

    config = load_config(args.config)
    if args.out is None and config.status_page is None:
        raise BadInput("no status_page in the config: set status_page.dir, or pass --out DIR")
    out = args.out.absolute() if args.out is not None else None
    path = status_page.render(config, out)
    if path is None:
        print("ccci-status: the page was not rendered (see the log above)", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
