# A flake check for machines with real nixpkgs: evaluate a minimal NixOS host
# that enables services.ccci through the real module system (types, merging,
# assertions) and build the /etc/ccci/config.json it renders. The offline
# tests in test_nix.py cannot do this: it needs nixpkgs' lib.nixosSystem.
{
  nixpkgs,
  system,
  module,
}:
let
  host = nixpkgs.lib.nixosSystem {
    inherit system;
    modules = [
      module
      {
        services.ccci = {
          enable = true;
          baseDomain = "ci.example.org";
        };
        # Enough of a host to evaluate: no bootloader or filesystems needed.
        boot.isContainer = true;
        system.stateVersion = "25.11";
      }
    ];
  };
  failed = builtins.filter (a: !a.assertion) host.config.assertions;
in
if failed != [ ] then
  throw (builtins.concatStringsSep "\n" (map (a: a.message) failed))
else
  host.config.environment.etc."ccci/config.json".source
