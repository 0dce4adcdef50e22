# Calls modules/ccci.nix as a plain function with a stub `lib` and `pkgs`, to
# check offline what the module declares and what it would render. It is NOT
# the NixOS module system: no merging, no type checking of values, no other
# modules. What it shows: the option names, that every option has a type and a
# description, and the JSON attrset handed to pkgs.formats.json when the
# defaults plus `settings` are used. Run by tests/nix/test_nix.py.
{
  module ? ../../../modules/ccci.nix,
  settings ? { },
}:
let
  fakeDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  lib = {
    mkOption = opt: opt // { _isOption = true; };
    mkEnableOption = what: {
      _isOption = true;
      type = "bool";
      default = false;
      description = "Whether to enable ${what}.";
    };
    mkIf = condition: content: { inherit condition content; };
    literalExpression = text: { inherit text; };
    types = {
      str = "str";
      package = "package";
      enum = values: { enum = values; };
    };
  };
  pkgs = {
    formats.json = _: {
      generate = name: value: { inherit name value; };
    };
    callPackage = _: _: fakeDrv "ccci" // { abra = fakeDrv "abra"; };
  };
  evaluated = import module {
    inherit lib pkgs;
    config.services.ccci = builtins.mapAttrs (_: o: o.default or null) options // settings;
  };
  options = evaluated.options.services.ccci;
  cfg = evaluated.config;
in
{
  optionNames = builtins.attrNames options;
  undescribed = builtins.filter (n: !(options.${n} ? description)) (builtins.attrNames options);
  untyped = builtins.filter (n: !(options.${n} ? type)) (builtins.attrNames options);
  onlyWhenEnabled = cfg.condition;
  rendered = cfg.content.environment.etc."ccci/config.json".source.value;
  docker = cfg.content.virtualisation.docker.enable;
  stateDirs = builtins.attrNames cfg.content.systemd.tmpfiles.settings."10-ccci";
}
