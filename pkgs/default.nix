# The package set: the shared Python distribution and one thin package per
# executable (its own runtime PATH). Used by flake.nix and, with the host's
# pkgs and abra, by the NixOS module's defaults.
#
# `abra` defaults to nixpkgs' abra; pass another to swap it everywhere:
#   import ./pkgs { inherit pkgs; abra = myAbra; }
# nixos-25.11 very likely has no abra: then the set still evaluates, and only
# building an executable that needs abra fails, with a message saying what
# to pass (docs/nix.md shows an overlay that builds abra from its source).
{
  pkgs,
  abra ? pkgs.abra or null,
}:
let
  abra' =
    if abra != null then
      abra
    else
      throw "ccci: this nixpkgs has no `abra`; build ccci's executables with one (`.override { abra = ...; }`, or services.ccci.abraPackage in the NixOS module); docs/nix.md shows an overlay that builds abra from its source tag";
  ccci = pkgs.callPackage ./ccci { };
  ccciExecutable = pkgs.callPackage ./executable.nix { inherit ccci; };
  executable =
    dir:
    pkgs.callPackage dir (
      { inherit ccciExecutable; }
      # Only executables that take abra get it (the bridge does not).
      // builtins.intersectAttrs (builtins.functionArgs (import dir)) { abra = abra'; }
    );
in
{
  inherit ccci;
  ccci-run = executable ./ccci-run;
  ccci-quick = executable ./ccci-quick;
  ccci-snapshot = executable ./ccci-snapshot;
  ccci-reconcile = executable ./ccci-reconcile;
  ccci-nightly = executable ./ccci-nightly;
  ccci-bridge = executable ./ccci-bridge;
  ccci-status = executable ./ccci-status;
}
