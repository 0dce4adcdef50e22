# A stand-in for nixpkgs, for offline evaluation of the flake and the module
# (tests/nix copies this to a tmp dir and passes it with --override-input
# nixpkgs; stub/module-eval.nix imports it directly). It is NOT nixpkgs:
# derivations are attrsets with a fake outPath, `lib` has only the handful of
# functions pkgs/ calls, fileset functions return markers, and runCommand
# keeps its script as an attribute so tests can read the wrapper it writes.
# What it can show: the flake's wiring (output names, systems, app program
# paths), that each pkgs/ccci-* is a callPackage function with an
# overridable `abra` and its own tools, that the version comes from
# pyproject.toml and the dependencies are python packages. What it cannot:
# that anything builds, that lib.fileset selects the right files, that
# nixpkgs has these attributes.
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
        "python-keycloak"
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
            makeWrapper = fakeDrv "make-wrapper";
            nixfmt = fakeDrv "nixfmt";
            python3Packages =
              builtins.listToAttrs (
                map (n: {
                  name = n;
                  value = fakeDrv "python3-${n}";
                }) pythonNames
              )
              // {
                # As in nixpkgs, passthru attributes land on the derivation.
                buildPythonPackage =
                  attrs: attrs // attrs.passthru or { } // fakeDrv "python3-${attrs.pname}-${attrs.version}";
              };
            python3 = fakeDrv "python3" // {
              withPackages =
                f:
                fakeDrv "python3-env" // {
                  packages = f pkgs.python3Packages;
                };
            };
            runCommand =
              name: env: script:
              env // env.passthru or { } // fakeDrv name // { inherit script; };
            formats.json = _: {
              generate = name: value: fakeDrv name // { inherit value; };
            };
            # Like nixpkgs' callPackage: fill arguments from pkgs, then the
            # explicit ones; keep `override` so the tests can swap abra.
            callPackage =
              fn: args:
              let
                f = if builtins.isFunction fn then fn else import fn;
                auto = builtins.intersectAttrs (builtins.functionArgs f) pkgs;
                result = f (auto // args);
                override = more: pkgs.callPackage fn (args // more);
              in
              # A function result stays callable, as with lib.makeOverridable.
              if builtins.isFunction result then
                {
                  __functor = _: result;
                  inherit override;
                }
              else
                result // { inherit override; };
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
