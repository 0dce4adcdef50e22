# The NixOS options services.ccci sets, declared minimally and strictly so
# modules/ccci.nix can go through nixpkgs' real lib.evalModules without the
# rest of NixOS. Types follow nixpkgs' own declarations (nixos/modules/...,
# 25.11) where they matter to ccci: units are submodules WITHOUT a freeform
# type, so a unit attribute NixOS does not know is an error here, as a
# misspelt option would be there. This is not NixOS: nothing is built, no
# unit file is written (the VM test on a machine with nixpkgs does that).
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  # systemd's unit values: what nixpkgs' unitOption accepts.
  unitValue = types.oneOf [
    types.bool
    types.int
    types.str
    types.path
    (types.listOf (types.oneOf [ types.int types.str types.path ]))
  ];
  units = types.listOf types.str;
  opt =
    type: default:
    mkOption {
      inherit type default;
    };
  service = types.submodule {
    options = {
      description = opt types.str "";
      after = opt units [ ];
      wants = opt units [ ];
      requires = opt units [ ];
      wantedBy = opt units [ ];
      environment = opt (types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]))) { };
      path = opt (types.listOf types.package) [ ];
      script = opt types.lines "";
      restartIfChanged = opt types.bool true;
      startAt = opt (types.either types.str (types.listOf types.str)) [ ];
      serviceConfig = opt (types.attrsOf unitValue) { };
      unitConfig = opt (types.attrsOf unitValue) { };
    };
  };
  timer = types.submodule {
    options = {
      description = opt types.str "";
      wantedBy = opt units [ ];
      timerConfig = opt (types.attrsOf unitValue) { };
    };
  };
  tmpfilesEntry = types.submodule {
    options = {
      mode = opt types.str "-";
      user = opt types.str "-";
      group = opt types.str "-";
      age = opt types.str "-";
      argument = opt types.str "";
    };
  };
  # nixos/modules/services/web-servers/nginx/{vhost,location}-options.nix:
  # only what ccci sets, with nixpkgs' types.
  location = types.submodule {
    options = {
      root = opt (types.nullOr types.path) null;
      index = opt (types.nullOr types.str) null;
      extraConfig = opt types.lines "";
    };
  };
  virtualHost = types.submodule {
    options = {
      root = opt (types.nullOr types.path) null;
      locations = opt (types.attrsOf location) { };
      extraConfig = opt types.lines "";
      forceSSL = opt types.bool false;
      enableACME = opt types.bool false;
    };
  };
in
{
  options = {
    assertions = opt (types.listOf (
      types.submodule {
        options = {
          assertion = mkOption { type = types.bool; };
          message = mkOption { type = types.str; };
        };
      }
    )) [ ];
    warnings = opt (types.listOf types.str) [ ];
    environment.etc = opt (types.attrsOf (
      types.submodule {
        options.source = mkOption { type = types.path; };
        options.text = mkOption {
          type = types.nullOr types.lines;
          default = null;
        };
        options.mode = opt types.str "symlink";
      }
    )) { };
    environment.systemPackages = opt (types.listOf types.package) [ ];
    systemd.services = opt (types.attrsOf service) { };
    systemd.timers = opt (types.attrsOf timer) { };
    systemd.tmpfiles.settings = opt (types.attrsOf (types.attrsOf (types.attrsOf tmpfilesEntry))) { };
    services.nginx = {
      enable = opt types.bool false;
      user = opt types.str "nginx";
      virtualHosts = opt (types.attrsOf virtualHost) { };
    };
    virtualisation.docker = {
      enable = opt types.bool false;
      package = lib.mkPackageOption pkgs "docker" { };
      autoPrune = {
        enable = opt types.bool false;
        flags = opt (types.listOf types.str) [ ];
        dates = opt types.str "weekly";
        randomizedDelaySec = opt types.singleLineStr "0";
        persistent = opt types.bool true;
      };
    };
  };
}
