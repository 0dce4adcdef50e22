"""Every .nix file in the repository parses, and the check can fail: a broken
file fails, and the same file fixed passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nix.nixtool import REPO, run_nix


def nix_files() -> Iterator[Path]:
    for path in sorted(REPO.rglob("*.nix")):
        parts = path.relative_to(REPO).parts
        if ".git" not in parts and parts[0] != "result":
            yield path


@pytest.mark.parametrize("path", list(nix_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_nix_file_parses(nix_env: dict[str, str], path: Path) -> None:
    run_nix(nix_env, "nix-instantiate", "--parse", str(path))


def test_the_owned_nix_files_are_all_found() -> None:
    found = {str(p.relative_to(REPO)) for p in nix_files()}
    owned = {
        "flake.nix",
        "pkgs/default.nix",
        "pkgs/jobs.nix",
        "pkgs/executable.nix",
        "pkgs/ccci/default.nix",
        "modules/ccci.nix",
        "modules/lib/render.nix",
        "tests/nix/harness/eval.nix",
        "tests/nix/harness/nixos.nix",
        "tests/nix/harness/fake-pkgs.nix",
        "tests/nix/harness/fake-nixpkgs.nix",
        "tests/nix/vm-nightly.nix",
        "tests/nix/module-config.nix",
    }
    assert owned <= found


def test_a_broken_file_fails_then_fixed_passes(nix_env: dict[str, str], tmp_path: Path) -> None:
    module = tmp_path / "host.nix"
    module.write_text('{ services.ccci.enable = ; services.ccci.baseDomain = "ci.example.org"; }\n')
    broken = run_nix(nix_env, "nix-instantiate", "--parse", str(module), check=False)
    assert broken.returncode != 0
    assert "syntax error" in broken.stderr

    module.write_text('{ services.ccci.enable = true; services.ccci.baseDomain = "ci.example.org"; }\n')
    fixed = run_nix(nix_env, "nix-instantiate", "--parse", str(module), check=False)
    assert fixed.returncode == 0, fixed.stderr
