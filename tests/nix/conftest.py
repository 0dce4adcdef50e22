"""Fixtures of the offline Nix checks: the tmp nix environment, nixpkgs'
real lib (a shimmed temporary copy, tests/nix/nixlib.py) and a copy of the
flake with a fake nixpkgs built on that lib. Skips the folder when nix is
not installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.nix.nixlib import shimmed_copy
from tests.nix.nixtool import HARNESS, REPO, have_nix

if not have_nix():
    pytest.skip(
        "nix is not installed (Debian: apt-get install nix-bin); "
        "the offline Nix checks need nix-instantiate and nix",
        allow_module_level=True,
    )

# What the flake needs to evaluate; copied so the tests see exactly these files
# and nothing another engineer has half-written elsewhere in the tree.
FLAKE_TREE = ["flake.nix", "flake.lock", "pkgs", "modules", "tests/nix", "tests/bed/recipes", "tests/bed/abra-standin", "pyproject.toml"]


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
def nixlib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nixpkgs' lib (25.11 branch-off) with the readFileType shim, in tmp."""
    return shimmed_copy(tmp_path_factory.mktemp("nixpkgs-lib") / "lib")


@pytest.fixture(scope="session")
def flake(tmp_path_factory: pytest.TempPathFactory, nixlib: Path) -> tuple[str, str]:
    """A copy of the flake's own files, and a fake nixpkgs flake whose `lib`
    is the real one and whose packages are fake-pkgs.nix, as path: refs."""
    root = tmp_path_factory.mktemp("flake")
    for name in FLAKE_TREE:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    fake = tmp_path_factory.mktemp("fake-nixpkgs")
    shutil.copy2(HARNESS / "fake-nixpkgs.nix", fake / "flake.nix")
    shutil.copy2(HARNESS / "fake-pkgs.nix", fake / "fake-pkgs.nix")
    shutil.copytree(nixlib, fake / "lib")
    return f"path:{root}", f"path:{fake}"
