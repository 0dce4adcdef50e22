# The package set: the shared Python distribution and one thin package per
# executable (its own runtime PATH). Used by flake.nix and, with the host's
# pkgs and abra, by the NixOS module's defaults.
#
# `abra` defaults to nixpkgs' abra; pass another to swap it everywhere:
#   import ./pkgs { inherit pkgs; abra = myAbra; }
{
  pkgs,
  abra ? pkgs.abra,
}:
let
  ccci = pkgs.callPackage ./ccci { };
  ccciExecutable = pkgs.callPackage ./executable.nix { inherit ccci; };
  executable =
    dir:
    pkgs.callPackage dir (
      { inherit ccciExecutable; }
      # Only executables that take abra get it (the bridge does not).
      // builtins.intersectAttrs (builtins.functionArgs (import dir)) { inherit abra; }
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
