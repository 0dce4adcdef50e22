"""ccci-snapshot: the known-good snapshot of a recipe's canonical, by hand.

    ccci-snapshot take|restore|verify|show RECIPE [--config FILE] [--accept-used-volumes]

take     snapshot the canonical's volumes now (the app must be undeployed);
         records the canonical's version and commit in the snapshot. Refused
         when a quick run left a PR's data in the volumes (record `volumes:
         used`) unless --accept-used-volumes; `restore` gets the known-good back
restore  make the canonical's volumes the known-good again (undeployed)
verify   recompute every checksum and check every member; exit 1 if corrupt
show     print the snapshot's meta.json
Holds the app's lock, like every run. JSON on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ccci.pure import config as config_mod
from ccci.seams import engine
from ccci.capabilities.canonical import SnapshotAction, snapshot_by_hand
from ccci.entry.common import Parser, guarded
from ccci.pure.names import BadInput, RecipeName
from ccci.capabilities.snapshot import SnapshotError, show


def parser() -> Parser:
    p = Parser(prog="ccci-snapshot", description="Take, restore, verify or show a canonical's snapshot.")
    p.add_argument("action", choices=[a.value for a in SnapshotAction])
    p.add_argument("recipe")
    p.add_argument("--config", type=Path)
    p.add_argument("--accept-used-volumes", action="store_true",
                   help="take: make the volumes the known-good even though a quick run left a PR's data in them")
    p.add_argument("--debug", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    return guarded("ccci-snapshot", argv, lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    action = SnapshotAction(args.action)
    recipe = RecipeName.parse(args.recipe)
    if args.accept_used_volumes and action is not SnapshotAction.TAKE:
        raise BadInput("--accept-used-volumes is only for take")
    config = config_mod.load(args.config)
    try:
        meta = snapshot_by_hand(config, recipe, engine.connect(), action,
                                accept_used_volumes=args.accept_used_volumes)
    except SnapshotError as error:
        print(f"ccci-snapshot: {error}", file=sys.stderr)
        return 1
    shown = show(meta) if action is SnapshotAction.SHOW else {"action": action.value, **show(meta)}
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
