# modules/ccci.nix through nixpkgs' real lib.evalModules with the NixOS
# options it sets (./nixos.nix) and a fake package set (./fake-pkgs.nix).
# `lib` is a path to nixpkgs' lib (the harness's shimmed copy, see
# tests/nix/nixlib.py); `host` is the operator's module. The result is what
# the tests read: failed assertions, warnings, rendered files, units.
{
  lib,
  host,
  withAbra ? true,
  module ? ../../../modules/ccci.nix,
}:
let
  realLib = import lib;
  pkgs = import ./fake-pkgs.nix {
    lib = realLib;
    inherit withAbra;
  };
  eval = realLib.evalModules {
    modules = [
      ./nixos.nix
      module
      host
      { _module.args.pkgs = pkgs; }
    ];
  };
  inherit (eval) config;
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  etc = name: if config.environment.etc ? ${name} then config.environment.etc.${name}.source.value else null;
in
{
  inherit failed;
  inherit (config) warnings;
  # Every services.ccci option as the manual would list it (entries as
  # <name>): whether it has a type and a description.
  options = map (o: {
    inherit (o) name type;
    described = (o.description or null) != null && o.description != "";
  }) (
    builtins.filter (o: !realLib.hasInfix "._module." o.name) (
      realLib.optionAttrSetToDocList eval.options.services.ccci
    )
  );
  # Only looked at when nothing failed, as NixOS refuses to build otherwise.
  result =
    if failed != [ ] then
      null
    else
      {
        config = etc "ccci/config.json";
        bridge = etc "ccci/bridge.json";
        services = config.systemd.services;
        # What each job unit's own file holds (its CCCI_CONFIG).
        unitConfigs = realLib.mapAttrs (_: s: s.environment.CCCI_CONFIG.value) (
          realLib.filterAttrs (_: s: s.environment ? CCCI_CONFIG) config.systemd.services
        );
        timers = config.systemd.timers;
        tmpfiles = config.systemd.tmpfiles.settings;
        docker = config.virtualisation.docker // {
          package = config.virtualisation.docker.package.name;
        };
        systemPackages = map (p: p.name) config.environment.systemPackages;
        inherit (config.services) nginx;
      };
}
