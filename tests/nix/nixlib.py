"""nixpkgs' real lib for the offline Nix checks: a temporary copy of
../shared/nix/nixpkgs-lib/lib with one compatibility shim.

Debian's Nix 2.8 has no `builtins.readFileType` (Nix 2.14 added it), which
lib/filesystem.nix calls for `pathType`. The copy defines it through
`builtins.readDir` of the parent directory when the builtin is missing, as
nixpkgs' lib did before it required the builtin; with a newer Nix the
builtin is used unchanged. The shared copy is never written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.nix.nixtool import REPO

SHARED_LIB = REPO.parent / "shared" / "nix" / "nixpkgs-lib" / "lib"
ORIGINAL = "  pathType = builtins.readFileType;"
SHIM = (
    "  pathType = builtins.readFileType or (path: if dirOf path == path then \"directory\" "
    "else (builtins.readDir (dirOf path)).${baseNameOf path});"
)


class NoNixpkgsLib(RuntimeError):
    """The shared copy of nixpkgs' lib is missing or not the expected one."""


def shimmed_copy(target: Path, source: Path = SHARED_LIB) -> Path:
    """Copy nixpkgs' lib to `target` and apply the readFileType shim there."""
    if not (source / "default.nix").is_file():
        raise NoNixpkgsLib(f"{source}: no nixpkgs lib here (see ../shared/nix/nixpkgs-lib/README.md)")
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    filesystem = target / "filesystem.nix"
    text = filesystem.read_text()
    if text.count(ORIGINAL) != 1:
        raise NoNixpkgsLib(f"{filesystem}: the line the shim replaces is not there once; update tests/nix/nixlib.py")
    filesystem.write_text(text.replace(ORIGINAL, SHIM))
    return target
