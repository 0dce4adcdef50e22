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
      # `nix run .#<job>` -> ccci-<job>, one for each entry of the one job
      # list (pkgs/jobs.nix).
      jobs = builtins.attrNames (import ./pkgs/jobs.nix);
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
              program = nixpkgs.lib.getExe self.packages.${system}."ccci-${name}";
              meta = { inherit (self.packages.${system}."ccci-${name}".meta) description; };
            };
          }) jobs
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
                exec ${python}/bin/python3 ${self}/tests/abra-contract "''${1:-${if pkgs ? abra then "${pkgs.abra}/bin/abra" else ""}}"
              ''}";
            };
        }
      );

      # The pin decides: the executables default to this flake's own
      # packages for the host's system (ccci and its Python deps from the
      # locked nixpkgs, not the host's), built with the host's
      # services.ccci.abraPackage. An operator's own
      # services.ccci.packages.<job> still wins (mkDefault).
      nixosModules.default =
        {
          config,
          lib,
          pkgs,
          ...
        }:
        let
          cfg = config.services.ccci;
          ours = self.packages.${pkgs.stdenv.hostPlatform.system};
          # Only the executables that take abra (passthru.abra) get the host's.
          withAbra =
            job:
            let
              package = ours."ccci-${job}";
            in
            if cfg.abraPackage == null || !(package ? abra) then
              package
            else
              package.override { abra = cfg.abraPackage; };
        in
        {
          imports = [ ./modules/ccci.nix ];
          services.ccci.packages = lib.genAttrs jobs (job: lib.mkDefault (withAbra job));
        };

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
                ps.jinja2
                ps.plumbum
                ps.pytest
                ps.python-keycloak
                ps.requests
                ps.hypothesis
                ps.pyyaml
                # Drives the system's chromium in the status page's browser test.
                ps.playwright
              ]))
              pkgs.docker-client
              pkgs.git
              pkgs.gnutar
              pkgs.nix
              pkgs.nixfmt
            ]
            # nixos-25.11 very likely has no abra (docs/nix.md).
            ++ pkgs.lib.optional (pkgs ? abra) pkgs.abra;
          };
        }
      );

      # `pkgs.nixfmt` is the RFC 166 (RFC-style) formatter: nixpkgs renamed
      # nixfmt-rfc-style to nixfmt in mid-2025, and the old name is now an
      # alias of it.
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
          # A rich host through the whole of NixOS; builds its JSON and unit files.
          module-config = import ./tests/nix/module-config.nix { inherit nixpkgs system module; };
          # A VM: docker + swarm, the nightly unit started by hand.
          vm-nightly = import ./tests/nix/vm-nightly.nix { inherit pkgs module; };
        }
      );
    };
}
