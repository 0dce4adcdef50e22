# Value checks for the builtins-only settings logic (./default.nix).
#
# The NixOS module system already type-checks services.ccci in a real
# evaluation; these checks exist so the same logic fails the same way when it
# is evaluated offline without nixpkgs (tests/nix, the `nix-logic` flake
# check). Every failure names the full option path, e.g.
#   services.ccci.enroll.fx-web.needs: expected a list of one of ["keycloak"], got a string "keycloak"
#
# A type is { description; check = path: value: normalized-value }, where
# check throws on a bad value. `fields` describes a closed attribute set:
# name -> { type; default? } (no default: required). An unknown key is an
# error, as ccci/config.py rejects unknown keys.
let
  shown =
    v:
    let
      t = builtins.typeOf v;
    in
    if t == "string" then
      "a string ${builtins.toJSON v}"
    else if t == "int" || t == "float" then
      "a number ${builtins.toJSON v}"
    else if t == "bool" then
      "a boolean ${builtins.toJSON v}"
    else if t == "null" then
      "null"
    else if t == "list" then
      "a list"
    else if t == "set" then
      "an attribute set"
    else
      "a ${t}";

  simple = description: ok: {
    inherit description;
    check =
      path: v: if ok v then v else throw "${path}: expected ${description}, got ${shown v}";
  };

  sort = builtins.sort builtins.lessThan;
in
rec {
  inherit shown;

  str = simple "a string" builtins.isString;
  int = simple "an integer" builtins.isInt;
  bool = simple "a boolean" builtins.isBool;
  # Nix has no float literal for whole seconds like `2`: accept both.
  number = simple "a number" (v: builtins.isInt v || builtins.isFloat v);

  enum =
    values:
    simple "one of ${builtins.toJSON values}" (v: builtins.elem v values);

  nullOr = t: {
    description = "null or ${t.description}";
    check = path: v: if v == null then null else t.check path v;
  };

  listOf = t: {
    description = "a list of ${t.description}";
    check =
      path: v:
      if builtins.isList v then
        # The index in the path, as the module system reports list elements.
        builtins.genList (i: t.check "${path}.[${toString i}]" (builtins.elemAt v i)) (builtins.length v)
      else
        throw "${path}: expected a list of ${t.description}, got ${shown v}";
  };

  attrsOf = t: {
    description = "an attribute set of ${t.description}";
    check =
      path: v:
      if builtins.isAttrs v then
        builtins.mapAttrs (name: x: t.check "${path}.${name}" x) v
      else
        throw "${path}: expected an attribute set of ${t.description}, got ${shown v}";
  };

  # A closed attribute set (a NixOS submodule): every key known, defaults
  # filled in, required keys present.
  submodule = fields: {
    description = "an attribute set with ${builtins.toJSON (sort (builtins.attrNames fields))}";
    check =
      path: v:
      let
        unknown = builtins.filter (n: !(fields ? ${n})) (builtins.attrNames v);
      in
      if !builtins.isAttrs v then
        throw "${path}: expected an attribute set, got ${shown v}"
      else if unknown != [ ] then
        throw "${path}: unknown option ${builtins.toJSON (builtins.head unknown)} (known: ${
          builtins.concatStringsSep ", " (sort (builtins.attrNames fields))
        })"
      else
        builtins.mapAttrs (
          name: field:
          if v ? ${name} then
            field.type.check "${path}.${name}" v.${name}
          else if field ? default then
            field.default
          else
            throw "${path}.${name}: required, but not set"
        ) fields;
  };

  field = type: default: { inherit type default; };
  required = type: { inherit type; };
}
