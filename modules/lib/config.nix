# Settings of services.ccci -> the JSON document every ccci executable reads
# (/etc/ccci/config.json, loaded by ccci/config.py).
#
# Builtins only (no nixpkgs, no lib) so it evaluates offline: tests/nix runs it
# with plain `nix-instantiate --eval`. Invariants:
# - keys are snake_case and exactly those named here: the Python side rejects
#   unknown keys, so this function takes a closed argument set too (an extra or
#   missing setting is an evaluation error, not a silently dropped key);
# - a value the Python side would refuse (bad domain, template without
#   `{recipe}`, relative state dir, unknown ingress) fails here, at evaluation,
#   with the full option path, instead of at the first run on the host.
{
  baseDomain,
  stateDir,
  recipeSource,
  server,
  ingress,
  abra,
}:
let
  # Same rule as ccci.names.Domain: lowercase DNS name, at least two labels.
  label = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
  isDomain =
    s: builtins.stringLength s <= 253 && builtins.match "${label}([.]${label})+" s != null;
  isAbsolute = s: builtins.substring 0 1 s == "/";
  ingressKinds = [
    "domain"
    "host-port"
  ];

  problems = builtins.filter (p: p != null) [
    (
      if isDomain baseDomain then
        null
      else
        "services.ccci.baseDomain: expected a lowercase DNS name like ci.example.org, got \"${baseDomain}\""
    )
    (
      if isAbsolute stateDir then
        null
      else
        "services.ccci.stateDir: expected an absolute path, got \"${stateDir}\""
    )
    (
      if builtins.match ".*[{]recipe[}].*" recipeSource != null then
        null
      else
        "services.ccci.recipeSource: must contain '{recipe}', got \"${recipeSource}\""
    )
    (if server != "" then null else "services.ccci.server: must not be empty")
    (
      if builtins.elem ingress ingressKinds then
        null
      else
        "services.ccci.ingress: expected one of ${builtins.toJSON ingressKinds}, got \"${ingress}\""
    )
    (if isAbsolute abra then null else "services.ccci.package: its abra must be an absolute path, got \"${abra}\"")
  ];
in
if problems != [ ] then
  throw (builtins.concatStringsSep "\n" problems)
else
  {
    base_domain = baseDomain;
    state_dir = stateDir;
    recipe_source = recipeSource;
    inherit server ingress abra;
  }
