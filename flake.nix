{
  description = "ccci: CI for Co-op Cloud recipes (deploy with abra on a real swarm, test, tear down)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  # Wiring only: packages live in pkgs/, the module in modules/, checks in
  # tests/nix/. Nothing here decides anything.
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
      # `nix run .#<app>` -> ccci-<app>.
      appNames = [
        "run"
        "quick"
        "snapshot"
        "reconcile"
        "nightly"
        "bridge"
      ];
    in
    {
      packages = eachSystem (
        system:
        let
          set = import ./pkgs { pkgs = pkgsFor system; };
        in
        set // { default = set.ccci-run; }
      );

      apps = eachSystem (
        system:
        builtins.listToAttrs (
          map (name: {
            inherit name;
            value = {
              type = "app";
              program = "${self.packages.${system}."ccci-${name}"}/bin/ccci-${name}";
            };
          }) appNames
        )
        // {
          # After every abra upgrade: `nix run .#abra-contract [-- PATH-TO-ABRA]` (docs/testbed.md).
          abra-contract =
            let
              pkgs = pkgsFor system;
              python = pkgs.python3.withPackages (ps: [ ps.attrs ps.cattrs ps.docker ps.plumbum ps.pyyaml ]);
            in
            {
              type = "app";
              program = "${pkgs.writeShellScript "abra-contract" ''
                export PATH=${pkgs.lib.makeBinPath [ pkgs.git ]}:$PATH
                exec ${python}/bin/python3 ${self}/tests/abra-contract "''${1:-${pkgs.abra}/bin/abra}"
              ''}";
            };
        }
      );

      nixosModules.default = ./modules/ccci.nix;

      devShells = eachSystem (
        system:
        let
          pkgs = pkgsFor system;
        in
        {
          # Runtime deps of pyproject.toml plus its `test` extra, and the
          # tools the executables put on their PATH, so `pytest` works here as
          # in CI; nix for the offline checks in tests/nix.
          default = pkgs.mkShell {
            packages = [
              (pkgs.python3.withPackages (ps: [
                ps.attrs
                ps.cattrs
                ps.docker
                ps.plumbum
                ps.pytest
                ps.python-keycloak
                ps.hypothesis
                ps.pyyaml
              ]))
              pkgs.abra
              pkgs.docker
              pkgs.git
              pkgs.gnutar
              pkgs.nix
              pkgs.nixfmt
            ];
          };
        }
      );

      # `nixfmt` is the RFC 166 formatter; on nixos-25.11 the old name
      # `nixfmt-rfc-style` is an alias that prints a deprecation warning.
      formatter = eachSystem (system: (pkgsFor system).nixfmt);

      checks = eachSystem (
        system:
        let
          pkgs = pkgsFor system;
          module = self.nixosModules.default;
        in
        # Every package builds (and imports every entry module).
        builtins.removeAttrs self.packages.${system} [ "default" ]
        // {
          # The builtins-only logic's cases, asserted at evaluation time.
          nix-logic = import ./tests/nix/logic-check.nix { inherit pkgs; };
          # A rich host through the real module system; builds its JSON files.
          module-config = import ./tests/nix/module-config.nix { inherit nixpkgs system module; };
          # A VM: docker + swarm, the nightly unit started by hand.
          vm-nightly = import ./tests/nix/vm-nightly.nix { inherit pkgs module; };
        }
      );
    };
}
