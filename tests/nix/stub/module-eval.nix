# Calls modules/ccci.nix as a plain function with a small stand-in for
# nixpkgs' `lib` and the stub nixpkgs' `pkgs`, to check offline what the
# module declares and what it hands NixOS. It is NOT the NixOS module system:
# no priorities, no merging with other modules, value types are not checked
# (the builtins-only logic checks those itself). It does fill option defaults
# like the module system, including submodule defaults and `{ name, ... }`
# entries, and rejects undeclared settings. Run by tests/nix/test_module.py.
{
  module ? ../../../modules/ccci.nix,
  settings ? { },
}:
let
  stubPkgs = ((import ./nixpkgs/flake.nix).outputs { self = { }; }).legacyPackages.x86_64-linux;

  # Types as plain descriptions: what the filler and the checks need.
  simple = name: { inherit name; };
  types = {
    str = simple "str";
    int = simple "int";
    bool = simple "bool";
    float = simple "float";
    package = simple "package";
    path = simple "path";
    port = simple "port";
    ints = {
      positive = simple "positiveInt";
      unsigned = simple "unsignedInt";
    };
    enum = values: {
      name = "enum";
      inherit values;
    };
    either = a: b: {
      name = "either";
      options = [
        a
        b
      ];
    };
    nullOr = elem: {
      name = "nullOr";
      inherit elem;
    };
    listOf = elem: {
      name = "listOf";
      inherit elem;
    };
    nonEmptyListOf = elem: {
      name = "nonEmptyListOf";
      inherit elem;
    };
    attrsOf = elem: {
      name = "attrsOf";
      inherit elem;
    };
    submodule = module: {
      name = "submodule";
      inherit module;
    };
  };

  lib = {
    inherit types;
    mkOption = opt: opt // { _isOption = true; };
    mkEnableOption = what: {
      _isOption = true;
      type = types.bool;
      default = false;
      description = "Whether to enable ${what}.";
    };
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    genAttrs =
      names: f:
      builtins.listToAttrs (
        map (name: {
          inherit name;
          value = f name;
        }) names
      );
    inherit (builtins) mapAttrs;
    optionalAttrs = cond: attrs: if cond then attrs else { };
    hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
    # Good enough for store paths and plain words, which is all units carry.
    escapeShellArgs = args: builtins.concatStringsSep " " (map (a: "'${a}'") args);
  };

  optionsOf = module: name: (if builtins.isFunction module then module { inherit name; } else module).options;

  # Fill declared options from `given`, defaults for the rest, like the module
  # system; an undeclared key is an error, as it is there.
  fillOptions =
    path: options: given:
    let
      unknown = builtins.filter (n: !(options ? ${n})) (builtins.attrNames given);
    in
    if unknown != [ ] then
      throw "The option `${path}.${builtins.head unknown}' does not exist."
    else
      builtins.mapAttrs (
        n: opt:
        let
          p = "${path}.${n}";
        in
        if given ? ${n} then
          fillValue p opt.type given.${n}
        else if opt ? default then
          fillValue p opt.type opt.default
        else
          throw "The option `${p}' is used but not defined."
      ) options;

  fillValue =
    path: type: value:
    if type.name == "submodule" then
      fillOptions path (optionsOf type.module (builtins.baseNameOf path)) value
    else if type.name == "attrsOf" && type.elem.name == "submodule" then
      builtins.mapAttrs (
        n: v: fillOptions "${path}.${n}" (optionsOf type.elem.module n) v
      ) value
    else if type.name == "nullOr" && value != null then
      fillValue path type.elem value
    else
      value;

  evaluate =
    config:
    import module {
      inherit lib config;
      pkgs = stubPkgs;
    };
  # A fixpoint, as in the module system: option defaults that read `config`
  # (e.g. packages built with abraPackage) see the filled-in values.
  declared = result.options.services.ccci;
  ccci = fillOptions "services.ccci" declared settings;
  result = evaluate {
    services.ccci = ccci;
    virtualisation.docker = {
      package = stubPkgs.docker;
      inherit (result.config.content.virtualisation.docker) autoPrune;
    };
  };
  out = result.config.content;

  # Every option, submodule options included (entries as `<name>`), as
  # { path; option } records.
  walk =
    path: options:
    builtins.concatLists (
      builtins.attrValues (
        builtins.mapAttrs (
          n: opt:
          let
            p = "${path}.${n}";
            t = opt.type or { name = "untyped"; };
            inner =
              if t.name == "submodule" then
                walk p (optionsOf t.module n)
              else if t.name == "attrsOf" && t.elem.name == "submodule" then
                walk "${p}.<name>" (optionsOf t.elem.module "<name>")
              else if t.name == "nullOr" && t.elem.name == "submodule" then
                walk p (optionsOf t.elem.module n)
              else
                [ ];
          in
          [
            {
              path = p;
              option = opt;
            }
          ]
          ++ inner
        ) options
      )
    );
  all = walk "services.ccci" declared;
in
{
  optionNames = builtins.attrNames declared;
  allOptions = map (o: o.path) all;
  untyped = map (o: o.path) (builtins.filter (o: !(o.option ? type)) all);
  undescribed = map (o: o.path) (builtins.filter (o: !(o.option ? description)) all);
  onlyWhenEnabled = result.config.condition;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) out.assertions);
  rendered = out.environment.etc."ccci/config.json".source.value;
  bridgeRendered =
    let
      b = out.environment.etc."ccci/bridge.json";
    in
    if b.condition then b.content.source.value else null;
  docker = out.virtualisation.docker;
  stateDirs = builtins.attrNames out.systemd.tmpfiles.settings."10-ccci";
  services = out.systemd.services;
  timers = out.systemd.timers;
  systemPackages = map (p: p.name) out.environment.systemPackages;
}
