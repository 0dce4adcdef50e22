"""Running nix offline for the tests in this folder: one seam for every nix
call (argv list, logged, against a throwaway chroot store under tmp so the
host's /nix/store is never written), and Python values as Nix literals."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness"
FLAKES = ["--extra-experimental-features", "nix-command flakes"]
ABRA = "/nix/store/00000000000000000000000000000000-abra/bin/abra"


def have_nix() -> bool:
    return shutil.which("nix-instantiate") is not None and shutil.which("nix") is not None


def run_nix(env: dict[str, str], *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one nix command against the tmp chroot store; fail the test on error when `check`."""
    program, *rest = argv
    full = [program, "--store", env["NIX_STORE_ROOT"], *rest]
    log.info("run: %s", " ".join(full))
    result = subprocess.run(full, capture_output=True, text=True, env=env, check=False, timeout=180)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(full)} exited {result.returncode}:\n{result.stderr}")
    return result


def nix_literal(value: object) -> str:
    """A JSON-ish Python value as a Nix expression."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{ " + " ".join(f"{json.dumps(k)} = {nix_literal(v)};" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[ " + " ".join(f"({nix_literal(v)})" for v in value) + " ]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid Nix, except `${` which Nix interpolates.
        return json.dumps(value).replace("${", "\\${")
    raise TypeError(f"no Nix literal for {value!r}")


def eval_expr(env: dict[str, str], expr: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_nix(env, "nix-instantiate", "--eval", "--strict", "--json", "-E", expr, check=check)


def eval_json(env: dict[str, str], expr: str) -> object:
    return json.loads(eval_expr(env, expr).stdout)
