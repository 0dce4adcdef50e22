{
  description = "ccci: CI for Co-op Cloud recipes (deploy with abra on a real swarm, test, tear down)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  # Wiring only: every output is defined in its own folder (pkgs/, modules/).
  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # A two-line helper instead of flake-utils: one input less to pin.
      eachSystem =
        f:
        builtins.listToAttrs (
          map (system: {
            name = system;
            value = f system;
          }) systems
        );
      pkgsFor = system: nixpkgs.legacyPackages.${system};
    in
    {
      packages = eachSystem (
        system:
        let
          ccci = (pkgsFor system).callPackage ./pkgs/ccci { };
        in
        {
          inherit ccci;
          default = ccci;
        }
      );

      apps = eachSystem (system: {
        run = {
          type = "app";
          program = "${self.packages.${system}.ccci}/bin/ccci-run";
        };
      });

      nixosModules.default = ./modules/ccci.nix;

      devShells = eachSystem (
        system:
        let
          pkgs = pkgsFor system;
        in
        {
          # Runtime deps of pyproject.toml plus its `test` extra, and the
          # tools the package puts on its PATH, so `pytest` works here as in CI.
          default = pkgs.mkShell {
            packages = [
              (pkgs.python3.withPackages (ps: [
                ps.attrs
                ps.cattrs
                ps.docker
                ps.plumbum
                ps.pytest
                ps.hypothesis
                ps.pyyaml
              ]))
              pkgs.abra
              pkgs.docker
              pkgs.nixfmt
            ];
          };
        }
      );

      # `nixfmt` is the RFC 166 formatter; on nixos-25.11 the old name
      # `nixfmt-rfc-style` is an alias that prints a deprecation warning.
      formatter = eachSystem (system: (pkgsFor system).nixfmt);

      checks = eachSystem (system: {
        ccci = self.packages.${system}.ccci;
        module-config = import ./tests/nix/module-config.nix {
          inherit nixpkgs system;
          module = self.nixosModules.default;
        };
      });
    };
}
