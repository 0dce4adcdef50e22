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

from ccci.capabilities import status_page
from ccci.entry.common import Parser, guarded
from ccci.pure import config as config_mod
from ccci.pure.names import BadInput


def parser() -> Parser:
    p = Parser(prog="ccci-status", description="Render the ccci status page (a static site).")
    p.add_argument("--config", type=Path, help="config file (default: $CCCI_CONFIG or /etc/ccci/config.json)")
    p.add_argument("--out", type=Path, help="render here instead of the config's status_page.dir")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    return guarded("ccci-status", argv, lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    config = config_mod.load(args.config)
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
