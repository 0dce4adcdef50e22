# The package set: the shared Python distribution and one thin package per
# executable (its own runtime PATH), one for each entry of ./jobs.nix. Used
# by flake.nix and, with the host's pkgs and abra, by the NixOS module's
# defaults.
#
# `abra` defaults to nixpkgs' abra; pass another to swap it everywhere:
#   import ./pkgs { inherit pkgs; abra = myAbra; }
# or in one executable: `ccci-run.override { abra = myAbra; }`.
# nixos-25.11 very likely has no abra: then the set still evaluates, and only
# building an executable that needs abra fails, with a message saying what
# to pass (docs/nix.md shows an overlay that builds abra from its source).
{
  pkgs,
  abra ? pkgs.abra or null,
}:
let
  inherit (pkgs) lib;
  abra' =
    if abra != null then
      abra
    else
      throw "ccci: this nixpkgs has no `abra`; build ccci's executables with one (`.override { abra = ...; }`, or services.ccci.abraPackage in the NixOS module); docs/nix.md shows an overlay that builds abra from its source tag";
  ccci = pkgs.callPackage ./ccci { };
  ccciExecutable = pkgs.callPackage ./executable.nix { inherit ccci; };

  # ccci-<job> as a package function of exactly its tools (by their nixpkgs
  # names), so callPackage fills them from pkgs and `.override` swaps one.
  executable =
    job: tools:
    lib.setFunctionArgs (
      args:
      ccciExecutable {
        name = "ccci-${job}";
        module = "ccci.entry.${job}";
        tools = map (tool: args.${tool}) tools;
        # The NixOS module checks the config's `abra` is this one.
        passthru = lib.optionalAttrs (args ? abra) { inherit (args) abra; };
      }
    ) (lib.genAttrs tools (_: false));
in
{
  inherit ccci;
}
// lib.mapAttrs' (
  job: tools:
  lib.nameValuePair "ccci-${job}" (
    pkgs.callPackage (executable job tools) (
      lib.optionalAttrs (builtins.elem "abra" tools) { abra = abra'; }
    )
  )
) (import ./jobs.nix)
