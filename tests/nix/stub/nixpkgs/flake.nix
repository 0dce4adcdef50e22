# A stand-in for nixpkgs, for offline evaluation of ../../../../flake.nix only
# (tests/nix/test_nix.py copies this to a tmp dir and passes it with
# --override-input nixpkgs). It is NOT nixpkgs: derivations are attrsets with
# a fake outPath, `lib` has only the handful of functions pkgs/ccci calls, and
# fileset functions return markers. What it can show: the flake's wiring (output
# names, systems, app program path), that pkgs/ccci is a callPackage function
# with an overridable `abra`, its version comes from pyproject.toml, and its
# dependencies are python packages. What it cannot: that anything builds, that
# lib.fileset selects the right files, that nixpkgs has these attributes.
{
  outputs =
    { self }:
    let
      fakeDrv = name: {
        type = "derivation";
        inherit name;
        outPath = "/nix/store/00000000000000000000000000000000-${name}";
      };
      lib = {
        fileset = {
          toSource = { root, fileset }: fakeDrv "source";
          unions = xs: xs;
          fileFilter = pred: path: path;
        };
        importTOML = path: builtins.fromTOML (builtins.readFile path);
        makeBinPath = pkgs: builtins.concatStringsSep ":" (map (p: "${p}/bin") pkgs);
        platforms.linux = [
          "x86_64-linux"
          "aarch64-linux"
        ];
      };
      pythonNames = [
        "attrs"
        "cattrs"
        "docker"
        "plumbum"
        "pytest"
        "setuptools"
        "hypothesis"
        "pyyaml"
      ];
      pkgsFor =
        system:
        let
          pkgs = {
            inherit lib;
            abra = fakeDrv "abra";
            docker = fakeDrv "docker";
            git = fakeDrv "git";
            gnutar = fakeDrv "gnutar";
            util-linux = fakeDrv "util-linux";
            coreutils = fakeDrv "coreutils";
            python3Packages =
              builtins.listToAttrs (
                map (n: {
                  name = n;
                  value = fakeDrv "python3-${n}";
                }) pythonNames
              )
              // {
                # As in nixpkgs, passthru attributes land on the derivation.
                buildPythonApplication =
                  attrs: attrs // attrs.passthru or { } // fakeDrv "${attrs.pname}-${attrs.version}";
              };
            # Like nixpkgs' callPackage: fill arguments from pkgs, then the
            # explicit ones; keep `override` so the test can swap abra.
            callPackage =
              fn: args:
              let
                f = import fn;
                auto = builtins.intersectAttrs (builtins.functionArgs f) pkgs;
              in
              f (auto // args) // { override = more: pkgs.callPackage fn (args // more); };
          };
        in
        pkgs;
    in
    {
      inherit lib;
      legacyPackages = {
        x86_64-linux = pkgsFor "x86_64-linux";
        aarch64-linux = pkgsFor "aarch64-linux";
      };
    };
}
