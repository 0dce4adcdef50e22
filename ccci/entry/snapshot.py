"""ccci-snapshot: the known-good snapshot of a recipe's canonical, by hand.

    ccci-snapshot take|restore|verify|show RECIPE [--config FILE]

take     snapshot the canonical's volumes now (the app must be undeployed);
         records the canonical's version and commit in the snapshot
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
    Arg("action", choices=["take", "restore", "verify", "show"]), Arg("recipe"), config_arg(), DEBUG,
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args) -> int:
    from ccci.capabilities import locks
    from ccci.capabilities.canonical import Canonical, Volumes
    from ccci.capabilities.snapshot import SnapshotError, show
    from ccci.seams import engine

    recipe = RecipeName.parse(args.recipe)
    config = load_config(args.config)
    canonical = Canonical(config, recipe, engine.connect())
    try:
        if args.action == "show":
            print(json.dumps(show(canonical.snapshots.meta()), indent=2))
            return 0
        with locks.hold(config.state, locks.app_lock_name(recipe.value), f"ccci-snapshot {args.action}",
                        config.timeouts.lock):
            if args.action == "verify":
                meta = canonical.snapshots.verify()
            elif args.action == "restore":
                meta = canonical.snapshots.restore(canonical.app_volumes())
                if canonical.record() is not None:
                    canonical.mark(volumes=Volumes.KNOWN_GOOD)
            else:
                record = canonical.record()
                if record is None:
                    raise BadInput(f"{recipe} has no canonical record: promote it with a green cold run")
                meta = canonical.snapshots.take(
                    canonical.app_volumes(), recipe=recipe.value, version=record.version, commit=record.commit
                )
                canonical.mark(volumes=Volumes.KNOWN_GOOD)
    except SnapshotError as error:
        print(f"ccci-snapshot: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"action": args.action, **show(meta)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
