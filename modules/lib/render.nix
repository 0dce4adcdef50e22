# The one rule that turns services.ccci into the JSON ccci reads.
#
# Walks the declared option types alongside the values (so the names of
# `attrsOf` entries, e.g. recipe names or forge repositories, are never
# touched) and:
# - renames every option camelCase -> snake_case; a word starts at a capital
#   followed by a lowercase letter: adminPasswordFile -> admin_password_file,
#   minFreeDiskMiB -> min_free_disk_mib, engineBack -> engine_back;
# - leaves out the options only the host reads (`hostOnly`, option paths
#   with `<name>` for an entry), and renames the few whose JSON key differs
#   (`renamed`);
# - never writes an `enable`: it is the host's switch (NixOS's convention).
#   A section that has one is in the file, without it, when enabled, and is
#   null when not (as an unset `nullOr` section is);
# - hands every option named `…File` to `secret` (the module's convention:
#   a `…File` option names a secret file), which decides what the JSON says
#   instead: the operator's path, or the unit's credential path.
# Values are checked by ccci's own model when it loads the file; this rule
# adds no checks and knows no option by name.
{ lib }:
rec {
  snake =
    name:
    let
      parts = builtins.split "([A-Z])" name;
      word =
        i: part:
        if builtins.isList part then
          let
            capital = builtins.head part;
            next = builtins.elemAt parts (i + 1);
            startsWord = i > 0 && builtins.match "[a-z].*" next != null;
          in
          (if startsWord then "_" else "") + lib.toLower capital
        else
          part;
    in
    lib.concatStrings (lib.imap0 word parts);

  # `p.where`: the option path with `<name>` for entries (what `hostOnly` and
  # `renamed` name); `p.option`: the option path with the entries' names (for
  # messages); `p.at`: the JSON path.
  walk =
    rules: p: type: value:
    if value == null then
      null
    else if type.name == "submodule" then
      let
        options = type.getSubOptions [ ];
      in
      if options ? enable && !value.enable then null else fromOptions rules p options value
    else if type.name == "attrsOf" then
      lib.mapAttrs (
        name:
        walk rules {
          where = p.where ++ [ "<name>" ];
          option = p.option ++ [ name ];
          at = p.at ++ [ name ];
        } type.nestedTypes.elemType
      ) value
    else if type.name == "listOf" then
      map (walk rules p type.nestedTypes.elemType) value
    else if type.name == "nullOr" then
      walk rules p type.nestedTypes.elemType value
    else if lib.hasSuffix "File" (lib.last p.where) then
      rules.secret p value
    else if lib.isPath value then
      "${value}"
    else
      value;

  fromOptions =
    rules: p: options: value:
    let
      where = name: p.where ++ [ name ];
      keep =
        name:
        !(builtins.elem name [
          "_module"
          "enable"
        ])
        && !(builtins.elem (where name) (rules.hostOnly or [ ]));
      key = name: (rules.renamed or { }).${lib.concatStringsSep "." (where name)} or (snake name);
    in
    builtins.listToAttrs (
      map (name: {
        name = key name;
        value = walk rules {
          where = where name;
          option = p.option ++ [ name ];
          at = p.at ++ [ (key name) ];
        } options.${name}.type value.${name};
      }) (builtins.filter keep (builtins.attrNames options))
    );

  # Render a set of options (e.g. options.services.ccci) or one option's
  # value by its type, from the top: `prefix` is that option's path.
  top = prefix: {
    where = [ ];
    option = prefix;
    at = [ ];
  };
  render = rules: prefix: fromOptions rules (top prefix);
  renderType = rules: prefix: walk rules (top prefix);

  # A secret's systemd credential name: its JSON path, e.g.
  # keycloak-admin-password-file.
  credentialName = p: lib.replaceStrings [ "_" ] [ "-" ] (lib.concatStringsSep "-" p.at);

  # The secret files a rendering refers to: `rendered` is a function of the
  # `secret` rule; the result lists { name; option; file; } per secret.
  secrets =
    rendered:
    map (x: x._secret) (
      lib.collect (x: x ? _secret) (
        rendered (
          p: file: {
            _secret = {
              name = credentialName p;
              option = lib.showOption p.option;
              inherit file;
            };
          }
        )
      )
    );
}
