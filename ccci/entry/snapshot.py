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

from ccci.entry.common import DEBUG, Arg, Command, config_arg, load_config
from ccci.pure.names import BadInput, RecipeName

COMMAND = Command(
    "ccci-snapshot", "Take, restore, verify or show a canonical's snapshot.",
    Arg("action", choices=["take", "restore", "verify", "show"]), Arg("recipe"), config_arg(),
    Arg("--accept-used-volumes", action="store_true",
        help="take: make the volumes the known-good even though a quick run left a PR's data in them"),
    DEBUG,
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args) -> int:
    from ccci.capabilities.canonical import SnapshotAction, snapshot_by_hand
    from ccci.capabilities.snapshot import SnapshotError, show
    from ccci.seams import engine

    action = SnapshotAction(args.action)
    recipe = RecipeName.parse(args.recipe)
    if args.accept_used_volumes and action is not SnapshotAction.TAKE:
        raise BadInput("--accept-used-volumes is only for take")
    config = load_config(args.config)
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
