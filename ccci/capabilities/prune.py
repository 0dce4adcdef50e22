"""The stale-state pruner: what a recipe leaves behind once it is unenrolled.

Removes, for each `<state>/canonical/<recipe>/` that has a canonical record
and whose recipe is no longer enrolled with a canonical: the canonical's
stack leftovers on the engine (its retained volumes, secrets) and the folder
(record, snapshot, ABRA_DIR). It never touches an enrolled canonical, the
infra apps' state (`<state>/infra/`), alerts (`<state>/alerts/`), locks, or
a folder without a record (not something ccci made). Holds each app's lock.
"""

from __future__ import annotations

import logging
import shutil

import docker

from ccci.capabilities import locks
from ccci.capabilities.canonical import Canonical
from ccci.pure.config import Config
from ccci.pure.names import BadInput, RecipeName

log = logging.getLogger("ccci")


def stale(config: Config) -> list[RecipeName]:
    root = config.state / "canonical"
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        try:
            recipe = RecipeName.parse(folder.name)
        except BadInput:
            continue
        if not folder.is_dir() or folder.is_symlink() or not (folder / "canonical.json").is_file():
            continue
        if config.enrolled(recipe) and config.settings_for(recipe).canonical:
            continue
        found.append(recipe)
    return found


def prune(config: Config, client: docker.DockerClient, *, dry_run: bool = False) -> list[str]:
    """Remove stale canonicals; the recipes pruned (or that would be)."""
    pruned = []
    for recipe in stale(config):
        if dry_run:
            pruned.append(recipe.value)
            continue
        with locks.hold(config.state, locks.app_lock_name(recipe.value), "stale-state pruner", config.timeouts.lock):
            canonical = Canonical(config, recipe, client)
            canonical.stack.remove_leftovers()
            shutil.rmtree(canonical.dir)
        log.info("pruned the canonical of %s (no longer enrolled)", recipe)
        pruned.append(recipe.value)
    return pruned
