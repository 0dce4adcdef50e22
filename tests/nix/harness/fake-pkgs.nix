# A fake package set for evaluating without nixpkgs: NOT nixpkgs. `lib` is
# nixpkgs' real lib (the harness passes its shimmed copy); derivations are
# attribute sets with a fake store path, `runCommand` keeps its script so
# tests can read the wrapper it writes, and `callPackage` is the real
# lib.callPackageWith (so `override` is the real one).
# What it can show: the wiring of pkgs/ and the module (which package gets
# which tools and which abra, what the module hands NixOS). What it cannot:
# that anything builds, or that nixpkgs has these attributes with these
# versions (docs/nix.md says what needs a machine with nixpkgs).
{
  lib,
  # false: a nixpkgs without `abra` (nixos-25.11 very likely has none).
  withAbra ? true,
  system ? "x86_64-linux",
  # The fake store hash of every package: the fake flake input uses another
  # one than the host's pkgs, so a test can tell whose package it got.
  hash ? "00000000000000000000000000000000",
}:
let
  fakeDrv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/${hash}-${name}";
      meta = {
        mainProgram = name;
      };
    }
    // extra;
  tool = name: fakeDrv name { };
  pythonNames = [
    "attrs"
    "cattrs"
    "docker"
    "jinja2"
    "plumbum"
    "pytest"
    "python-keycloak"
    "requests"
    "setuptools"
    "hypothesis"
    "pyyaml"
    "playwright"
    "pytestCheckHook"
  ];
  pkgs = {
    inherit lib system;
    stdenv.hostPlatform.system = system;
    callPackage = lib.callPackageWith pkgs;
    docker = tool "docker";
    docker-client = fakeDrv "docker-client" { meta.mainProgram = "docker"; };
    git = tool "git";
    gnutar = fakeDrv "gnutar" { meta.mainProgram = "tar"; };
    util-linux = tool "util-linux";
    coreutils = tool "coreutils";
    makeWrapper = tool "make-wrapper";
    nixfmt = tool "nixfmt";
    nix = tool "nix";
    mkShell = attrs: fakeDrv "shell" attrs;
    python3Packages =
      lib.genAttrs pythonNames (n: fakeDrv "python3-${n}" { })
      // {
        # As in nixpkgs, passthru attributes land on the derivation.
        buildPythonPackage =
          attrs:
          attrs // attrs.passthru or { } // fakeDrv "python3-${attrs.pname}-${attrs.version}" { inherit (attrs) meta; };
      };
    python3 = tool "python3" // {
      withPackages =
        f:
        fakeDrv "python3-env" {
          packages = f pkgs.python3Packages;
        };
      pkgs = pkgs.python3Packages;
    };
    runCommand =
      name: env: script:
      env // env.passthru or { } // fakeDrv name { inherit script; meta = env.meta or { }; };
    linkFarm = name: entries: fakeDrv name { inherit entries; };
    formats.json = _: {
      type = lib.types.anything;
      generate = name: value: fakeDrv name { inherit value; };
    };
  }
  // lib.optionalAttrs withAbra { abra = tool "abra"; };
in
pkgs
