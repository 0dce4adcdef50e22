# Flake check `module-config`: a rich host (enrollments, infra, keycloak,
# alerts, bridge, status page served by nginx) through the real NixOS module
# system (types, merging, assertions), building the files it renders:
# /etc/ccci/config.json, /etc/ccci/bridge.json, the nightly, reconcile and
# status unit files and nginx's unit (whose config NixOS checks as it
# builds it). The offline
# tests (tests/nix/test_nix_module.py) run the module through the same
# lib.evalModules, but with stand-ins for the rest of NixOS and for pkgs;
# this check needs all of nixpkgs.
{
  nixpkgs,
  system,
  module,
}:
let
  host = nixpkgs.lib.nixosSystem {
    modules = [
      module
      {
        nixpkgs.hostPlatform = system;
        services.ccci = {
          enable = true;
          baseDomain = "ci.example.org";
          enroll = {
            custom-html.canonical = true;
            lasuite-docs = {
              canonical = true;
              needs = [ "keycloak" ];
              timeout = 5400;
            };
          };
          infra = {
            traefik = {
              domain = "ci.example.org";
              health.status = [
                200
                404
              ];
            };
            keycloak = {
              domain = "sso.ci.example.org";
              stateful = true;
              health.path = "/realms/master";
              schedule = null;
            };
          };
          keycloak = {
            url = "https://sso.ci.example.org";
            adminPasswordFile = "/run/secrets/keycloak-admin";
          };
          alerts = {
            pushUrl = "https://ntfy.example.org/ccci";
            tokenFile = "/run/secrets/ntfy-token";
          };
          statusPage = {
            enable = true;
            baseUrl = "https://status.ci.example.org/";
            nginx = {
              enable = true;
              virtualHost = "status.ci.example.org";
            };
          };
          bridge = {
            enable = true;
            settings = {
              forge = {
                kind = "gitea";
                url = "https://git.example.org";
                tokenFile = "/run/secrets/forge-token";
                webhookSecretFile = "/run/secrets/webhook-secret";
              };
              drone = {
                url = "https://drone.example.org";
                tokenFile = "/run/secrets/drone-token";
                repo = "ci/ccci";
              };
              repos."coop-cloud/custom-html" = "custom-html";
            };
          };
        };
        # Enough of a host to evaluate: no bootloader or filesystems needed.
        boot.isContainer = true;
        system.stateVersion = "25.11";
      }
    ];
  };
  inherit (host) config;
  failed = builtins.filter (a: !a.assertion) config.assertions;
  etc = name: {
    inherit name;
    path = config.environment.etc."ccci/${name}".source;
  };
  unit = name: {
    inherit name;
    path = config.systemd.units.${name}.unit;
  };
in
if failed != [ ] then
  throw (builtins.concatStringsSep "\n" (map (a: a.message) failed))
else
  nixpkgs.legacyPackages.${system}.linkFarm "ccci-module-config" (
    map etc [
      "config.json"
      "bridge.json"
    ]
    ++ map unit [
      "ccci-nightly.service"
      "ccci-nightly.timer"
      "ccci-reconcile-traefik.timer"
      "ccci-reconcile-keycloak.service"
      "ccci-bridge.service"
      "ccci-status.service"
      "ccci-status.timer"
      # Its ExecStart names nginx's config, which NixOS validates as it builds it.
      "nginx.service"
    ]
  )
