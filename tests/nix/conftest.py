"""Fixtures of the offline Nix checks: the tmp nix environment and a copy of
the flake with a stub nixpkgs. Skips the folder when nix is not installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.nix.nixtool import REPO, STUB, have_nix

if not have_nix():
    pytest.skip(
        "nix is not installed (Debian: apt-get install nix-bin); "
        "the offline Nix checks need nix-instantiate and nix",
        allow_module_level=True,
    )

# What the flake needs to evaluate; copied so the tests see exactly these files
# and nothing another engineer has half-written elsewhere in the tree.
FLAKE_TREE = ["flake.nix", "flake.lock", "pkgs", "modules", "tests/nix", "tests/bed/recipes", "pyproject.toml"]


@pytest.fixture(scope="session")
def nix_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("nix-home")
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PATH": str(Path(shutil.which("nix") or "nix").parent) + ":/usr/bin:/bin",
        "NIX_STORE_ROOT": str(home / "store"),
    }


@pytest.fixture(scope="session")
def flake(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A copy of the flake's own files and of the stub nixpkgs, as path: refs."""
    root = tmp_path_factory.mktemp("flake")
    for name in FLAKE_TREE:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    stub = tmp_path_factory.mktemp("stub-nixpkgs")
    shutil.copy2(STUB / "nixpkgs/flake.nix", stub / "flake.nix")
    return f"path:{root}", f"path:{stub}"
