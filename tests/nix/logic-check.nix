# Flake check `nix-logic`: the builtins-only logic's cases (./cases.nix),
# asserted while the flake is evaluated; the derivation only records them,
# or fails its build naming the cases that did not hold. The same cases run
# offline in tests/nix/test_logic.py.
{ pkgs }:
let
  cases = import ./cases.nix;
  failed = builtins.filter (name: !cases.${name}) (builtins.attrNames cases);
in
pkgs.runCommand "ccci-nix-logic"
  {
    passed = builtins.toJSON (builtins.attrNames cases);
    failed = builtins.toJSON failed;
  }
  ''
    if [ "$failed" != "[]" ]; then
      echo "builtins-only logic cases failed: $failed" >&2
      exit 1
    fi
    printf '%s\n' "$passed" > $out
  ''
