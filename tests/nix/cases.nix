# Cases for the builtins-only logic (modules/lib), name -> true when it holds.
# Builtins only: evaluated offline by tests/nix/test_logic.py and, on a
# machine with nixpkgs, by the flake check `nix-logic` (./logic-check.nix).
# Messages are checked by the pytest side (tryEval cannot see them).
let
  logic = import ../../modules/lib;
  abra = "/nix/store/00000000000000000000000000000000-abra/bin/abra";
  base = {
    baseDomain = "ci.example.org";
    inherit abra;
  };
  run = settings: logic { inherit settings; };
  fails = v: !(builtins.tryEval (builtins.deepSeq v v)).success;
  hasProblem =
    settings: prefix:
    builtins.any (p: builtins.substring 0 (builtins.stringLength prefix) p == prefix) (run settings).problems;

  keycloak = {
    url = "https://sso.example.org";
    adminPasswordFile = "/run/secrets/kc";
  };
  withInfra = base // {
    infra = {
      keycloak = {
        recipe = "keycloak";
        domain = "sso.example.org";
        stateful = true;
      };
      traefik = {
        recipe = "traefik";
        domain = "ci.example.org";
        schedule = null;
      };
    };
  };
  units = (run withInfra).units;
in
{
  "a minimal host renders ccci/config.py's defaults" = (run base).config == {
    base_domain = "ci.example.org";
    state_dir = "/var/lib/ccci";
    recipe_source = "https://git.coopcloud.tech/coop-cloud/{recipe}.git";
    server = "default";
    inherit abra;
    ingress = "domain";
    keep_runs = 50;
    timeouts = {
      converge = 300;
      undeploy = 120;
      http = 60;
      abra = 900;
      tests = 900;
      lock = 3600;
    };
    recipes = { };
    keycloak = null;
    infra = { };
    alerts = null;
    max_concurrent_runs = 2;
    min_free_disk_mib = 2048;
  };

  "an enrollment renders with its defaults filled in" =
    (run (base // { enroll.fx-web.canonical = true; })).config.recipes == {
      fx-web = {
        canonical = true;
        overlay_tests = null;
        needs = [ ];
        timeout = 3600;
      };
    };

  "an unknown key in an enrollment fails evaluation" =
    fails (run (base // { enroll.fx-web.canonial = true; })).config;

  "a wrong type in an enrollment fails evaluation" =
    fails (run (base // { enroll.fx-web.needs = "keycloak"; })).config;

  "needs keycloak without services.ccci.keycloak is a problem" =
    hasProblem (base // { enroll.fx-sso.needs = [ "keycloak" ]; }) "services.ccci.enroll.fx-sso.needs";

  "needs keycloak with services.ccci.keycloak is fine" =
    (run (
      base
      // {
        enroll.fx-sso.needs = [ "keycloak" ];
        inherit keycloak;
      }
    )).problems == [ ];

  "a secret file in the store is a problem" = hasProblem (
    base
    // {
      keycloak = keycloak // {
        adminPasswordFile = "/nix/store/00000000000000000000000000000000-pw";
      };
    }
  ) "services.ccci.keycloak.adminPasswordFile";

  "docker prune with --volumes is a problem" = hasProblem (
    base
    // {
      dockerPrune.flags = [
        "--all"
        "--volumes"
      ];
    }
  ) "services.ccci.dockerPrune.flags";

  "the default docker prune never has --volumes" =
    !(builtins.elem "--volumes" (run base).autoPrune.flags);

  "a unit's config names its credentials, never the operator's file" =
    let
      r = run (
        base
        // {
          inherit keycloak;
          alerts = {
            pushUrl = "https://ntfy.example.org/ccci";
            tokenFile = "/run/secrets/ntfy";
          };
        }
      );
      unit = r.configFor "ccci-nightly";
    in
    unit.keycloak.admin_password_file == "/run/credentials/ccci-nightly.service/keycloak-admin-password"
    && unit.alerts.token_file == "/run/credentials/ccci-nightly.service/alert-token"
    && r.config.keycloak.admin_password_file == "/run/secrets/kc";

  "one reconcile unit per infra app, a timer only where scheduled" =
    builtins.attrNames units.services == [
      "ccci-nightly"
      "ccci-reconcile-keycloak"
      "ccci-reconcile-traefik"
      "ccci-swarm-init"
    ]
    && builtins.attrNames units.timers == [
      "ccci-nightly"
      "ccci-reconcile-keycloak"
    ];

  "every timer is persistent" = builtins.all (t: t.timerConfig.Persistent) (
    builtins.attrValues units.timers
  );

  "the nightly sweep is ordered after network-online and the infra reconcilers" =
    let
      n = units.services.ccci-nightly;
    in
    builtins.all (u: builtins.elem u n.after) [
      "network-online.target"
      "ccci-reconcile-keycloak.service"
      "ccci-reconcile-traefik.service"
    ]
    && builtins.elem "network-online.target" n.wants;

  "nightly.enable = false drops the timer, keeps the service" =
    let
      u = (run (base // { nightly.enable = false; })).units;
    in
    !(u.timers ? ccci-nightly) && u.services ? ccci-nightly;
}
