# services.ccci: CI for Co-op Cloud recipes on a NixOS host.
#
# The options below are the one Nix declaration of every setting (type,
# default, description). The config file ccci reads is `cfg` rendered by one
# rule (./lib/render.nix: camelCase -> snake_case, host-only options left
# out, `…File` secrets as credential paths); ccci's own model
# (ccci/pure/config.py, ccci/pure/bridge_config.py, unknown keys rejected) is the one
# validator of values. Nix asserts only what Nix alone can see: secrets in the
# store, store paths and the relations between options.
#
# What NixOS gets:
# - /etc/ccci/config.json and /etc/ccci/bridge.json (for runs by hand; they
#   name the operator's secret files), and one JSON file per unit whose
#   secret paths are under /run/credentials/<unit>.service/, filled by
#   LoadCredential (no secret ever enters the store);
# - ccci-nightly.service/.timer, ccci-reconcile-<name>.service/.timer per
#   warm infra app, ccci-swarm-init.service, ccci-bridge.service,
#   ccci-status.service/.timer;
# - Docker with swarm mode and an image prune that never touches volumes;
# - optionally an nginx virtual host serving the status page read-only.
# Enrollment follows nixpkgs' services.restic.backups: attrsOf (submodule
# ({ name, ... }: ...)), units named ccci-<kind>-<name>, a timer only where
# asked (Persistent).
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.ccci;
  inherit (lib) mkOption types literalExpression;
  json = pkgs.formats.json { };
  render = import ./lib/render.nix { inherit lib; };

  # The one job list (pkgs/jobs.nix): one services.ccci.packages.<job> each.
  jobs = builtins.attrNames (import ../pkgs/jobs.nix);
  exe = job: lib.getExe cfg.packages.${job};

  # --- the config files: cfg by one rule ------------------------------------

  # Options the host reads and ccci does not; everything else is in the file
  # (every `enable` too, by the rule itself: a section with an `enable` is in
  # the file, without it, only when enabled, and null when not).
  hostOnly = [
    [ "abraPackage" ]
    [ "packages" ]
    [ "nightly" ]
    [ "swarm" ]
    [ "dockerPrune" ]
    [ "bridge" ]
    [
      "infra"
      "<name>"
      "schedule"
    ]
    [
      "statusPage"
      "onCalendar"
    ]
    [
      "statusPage"
      "nginx"
    ]
  ];
  # ccci calls the enrolled recipes `recipes`.
  renamed.enroll = "recipes";

  # `secret` decides what a `…File` option becomes in the file: the
  # operator's path (/etc/ccci, runs by hand as root) or a unit's credential.
  configWith =
    secret:
    render.render {
      inherit hostOnly renamed secret;
    } [ "services" "ccci" ] options.services.ccci cfg
    // {
      abra = if cfg.abraPackage == null then null else lib.getExe' cfg.abraPackage "abra";
    };
  bridgeWith =
    secret:
    render.renderType { inherit secret; } [
      "services"
      "ccci"
      "bridge"
      "settings"
    ] (options.services.ccci.bridge.type.getSubOptions [ ]).settings.type cfg.bridge.settings;

  operatorFile = _: file: file;
  credentialOf = unit: p: _: "/run/credentials/${unit}.service/${render.credentialName p}";
  loadCredential = rendered: map (s: "${s.name}:${s.file}") (render.secrets rendered);

  # --- units ------------------------------------------------------------------

  statusPage = cfg.statusPage;
  serveStatusPage = statusPage.enable && statusPage.nginx.enable;
  reconcileUnit = name: "ccci-reconcile-${name}";
  infraNames = builtins.attrNames cfg.infra;
  # Everything a job that deploys needs before it starts.
  engineOrder = [
    "network-online.target"
    "docker.service"
  ]
  ++ lib.optional cfg.swarm.enable "ccci-swarm-init.service";

  # A oneshot ccci job with its own config file and the ccci credentials;
  # `deploys`: it needs the engine (and the swarm) up first.
  job =
    {
      unit,
      description,
      argv,
      after ? [ ],
      deploys ? true,
    }:
    let
      configFile = json.generate "${unit}.json" (configWith (credentialOf unit));
      order = lib.optionals deploys engineOrder;
    in
    {
      inherit description;
      after = order ++ after;
      wants = order;
      # A running sweep or reconcile is not restarted by nixos-rebuild switch:
      # it finishes (or tears down) under the old config.
      restartIfChanged = false;
      environment = {
        # Children (ccci-run under the sweep, a recipe's pytest) find it too.
        CCCI_CONFIG = configFile;
        # Units run as root; give them root's home, as a run by hand has
        # (abra, git and docker read it: e.g. a `docker login` applies to both).
        HOME = "/root";
      };
      serviceConfig = {
        Type = "oneshot";
        ExecStart = lib.escapeShellArgs (
          argv
          ++ [
            "--config"
            "${configFile}"
          ]
        );
        LoadCredential = loadCredential configWith;
      };
    };

  timer = description: timerConfig: {
    inherit description;
    wantedBy = [ "timers.target" ];
    timerConfig = timerConfig // {
      Persistent = true;
    };
  };

  docker = lib.getExe config.virtualisation.docker.package;

  services = {
    ccci-nightly = lib.recursiveUpdate (job {
      unit = "ccci-nightly";
      description = "ccci nightly sweep: reconcile warm infra, then cold-run every enrolled recipe";
      argv = [ (exe "nightly") ];
      after = map (n: "${reconcileUnit n}.service") infraNames;
    }) { serviceConfig.TimeoutStartSec = cfg.nightly.timeoutSec; };
  }
  // lib.listToAttrs (
    map (
      name:
      lib.nameValuePair (reconcileUnit name) (job {
        unit = reconcileUnit name;
        description = "ccci: reconcile warm infra app ${name} (${cfg.infra.${name}.recipe}) to its latest release";
        argv = [
          (exe "reconcile")
          name
        ];
      })
    ) infraNames
  )
  // lib.optionalAttrs cfg.swarm.enable {
    ccci-swarm-init = {
      description = "ccci: make this Docker engine a single-node swarm manager";
      after = [ "docker.service" ];
      requires = [ "docker.service" ];
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
      };
      # Swarm membership is runtime state NixOS does not manage: join once,
      # then leave it alone. Co-op Cloud recipes join the `proxy` overlay.
      script = ''
        set -eu
        if [ "$(${docker} info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
          ${docker} swarm init --advertise-addr ${lib.escapeShellArg cfg.swarm.advertiseAddr}
        fi
        ${docker} network inspect proxy >/dev/null 2>&1 ||
          ${docker} network create --driver overlay --attachable proxy
      '';
    };
  }
  // lib.optionalAttrs statusPage.enable {
    # Every job refreshes the page when it ends; the timer catches what no
    # job saw (a lock released, an alert, the disk) and renders the first page.
    ccci-status = job {
      unit = "ccci-status";
      description = "ccci: render the status page into ${statusPage.dir}";
      argv = [ (exe "status") ];
      deploys = false;
    };
  }
  // lib.optionalAttrs cfg.bridge.enable {
    ccci-bridge = {
      description = "ccci bridge: !testme PR comments to CI builds (${cfg.bridge.mode})";
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        Type = "simple";
        ExecStart = lib.escapeShellArgs [
          (exe "bridge")
          cfg.bridge.mode
          "--config"
          "${json.generate "ccci-bridge.json" (bridgeWith (credentialOf "ccci-bridge"))}"
        ];
        LoadCredential = loadCredential bridgeWith;
        Restart = "on-failure";
        RestartSec = 10;
      };
    };
  };

  timers =
    lib.optionalAttrs cfg.nightly.enable {
      ccci-nightly = timer "ccci nightly sweep" {
        OnCalendar = cfg.nightly.onCalendar;
        RandomizedDelaySec = cfg.nightly.randomizedDelaySec;
      };
    }
    // lib.optionalAttrs statusPage.enable {
      ccci-status = timer "ccci status page" { OnCalendar = statusPage.onCalendar; };
    }
    // lib.listToAttrs (
      lib.concatMap (
        name:
        lib.optional (cfg.infra.${name}.schedule != null) (
          lib.nameValuePair (reconcileUnit name) (
            timer "ccci: reconcile ${name}" { OnCalendar = cfg.infra.${name}.schedule; }
          )
        )
      ) infraNames
    );

  # --- what only Nix can check --------------------------------------------------

  allSecrets = render.secrets configWith ++ lib.optionals cfg.bridge.enable (render.secrets bridgeWith);
  secretAssertions = map (s: {
    assertion = lib.hasPrefix "/" s.file && !lib.hasPrefix builtins.storeDir s.file;
    message = "${s.option}: ${builtins.toJSON s.file} must be an absolute path to a file outside the Nix store (which every local user can read), e.g. /run/secrets/...; it is handed to the units by LoadCredential.";
  }) allSecrets;

  pruneFlags = config.virtualisation.docker.autoPrune.flags;

  secretFileText = what: ''
    Absolute path of a file on the host holding ${what} (one line), e.g. a
    sops-nix or agenix secret. Never a Nix path or a store path: the file is
    handed to the units by systemd LoadCredential and the JSON names
    /run/credentials/<unit>.service/<name>, never the secret.
  '';

  # A group of options that all have defaults: set in part or not at all.
  section =
    description: options:
    mkOption {
      type = types.submodule { inherit options; };
      default = { };
      inherit description;
    };

  timeout =
    default: what:
    mkOption {
      type = types.ints.positive;
      inherit default;
      description = "Seconds a run waits at most ${what}.";
    };

  healthOptions = {
    path = mkOption {
      type = types.str;
      default = "/";
      example = "/realms/master";
      description = "Path the health probe GETs on the app's domain; starts with `/`.";
    };
    status = mkOption {
      type = types.nonEmptyListOf types.int;
      default = [ 200 ];
      description = "HTTP status codes the probe accepts as healthy (100-599).";
    };
    contains = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Text the response body must contain, or null for any body.";
    };
    window = mkOption {
      type = types.ints.unsigned;
      default = 120;
      description = ''
        Seconds a freshly deployed release is watched. ccci raises it to the
        slowest service's start_period + interval x retries; it must also
        cover the image pull and start.
      '';
    };
    samples = mkOption {
      type = types.ints.positive;
      default = 3;
      description = "Consecutive healthy polls required at the end of the window.";
    };
    poll = mkOption {
      type = types.either types.ints.positive types.float;
      default = 1.0;
      description = "Seconds between health polls (positive).";
    };
  };

  enrollEntry =
    { name, ... }:
    {
      options = {
        canonical = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Keep a warm canonical app `warm-${name}.<baseDomain>` for
            `ccci-quick ${name} REF`, re-seeded (promoted) by every green cold
            run of ${name} on its latest release, e.g. the nightly one.
          '';
        };
        overlayTests = mkOption {
          type = types.nullOr types.path;
          default = null;
          example = literalExpression "./recipe-tests/${name}";
          description = ''
            A directory of pytest files run after the generic tests for
            ${name} (the recipe's own tests live in the recipe). A Nix path is
            copied to the store; a string is used as is.
          '';
        };
        needs = mkOption {
          type = types.listOf (types.enum [ "keycloak" ]);
          default = [ ];
          example = [ "keycloak" ];
          description = ''
            Shared infrastructure the tests of ${name} use. `keycloak`: each
            run gets its own realm on the warm Keycloak (needs
            `services.ccci.keycloak`).
          '';
        };
        timeout = mkOption {
          type = types.ints.positive;
          default = 3600;
          description = "Seconds one cold run of ${name} may take in the nightly sweep before it is stopped (it still tears down).";
        };
        env = mkOption {
          type = types.attrsOf types.str;
          default = { };
          example = {
            COMPOSE_FILE = "compose.yml:compose.smtp.yml";
          };
          description = ''
            Values ccci writes into the app's env file before every deploy
            of ${name}, as an operator edits it. Names are `[A-Z_][A-Z0-9_]*`
            and not abra's own (TYPE, RECIPE, DOMAIN); values use
            `A-Z a-z 0-9 _ . / : @ + , = % -` only (checked by ccci).
          '';
        };
        ssoEnv = mkOption {
          type = types.attrsOf (
            types.enum [
              "CCCI_KEYCLOAK_URL"
              "CCCI_KEYCLOAK_HOST"
              "CCCI_OIDC_REALM"
              "CCCI_OIDC_ISSUER"
              "CCCI_OIDC_DISCOVERY_URL"
              "CCCI_OIDC_TOKEN_URL"
              "CCCI_OIDC_CLIENT_ID"
              "CCCI_OIDC_CLIENT_SECRET"
              "CCCI_OIDC_USERNAME"
              "CCCI_OIDC_EMAIL"
            ]
          );
          default = { };
          example = {
            OIDC_ISSUER = "CCCI_OIDC_ISSUER";
            OIDC_CLIENT_ID = "CCCI_OIDC_CLIENT_ID";
            OIDC_CLIENT_SECRET = "CCCI_OIDC_CLIENT_SECRET";
          };
          description = ''
            App env variables of ${name} that get the run's realm values
            (docs/sso.md), written into the app's env file before every
            deploy; needs `needs = [ "keycloak" ]`.
          '';
        };
      };
    };

  infraEntry =
    { name, ... }:
    {
      options = {
        recipe = mkOption {
          type = types.str;
          default = name;
          defaultText = literalExpression "<name>";
          description = "The Co-op Cloud recipe this warm app runs (default: the entry's name).";
        };
        domain = mkOption {
          type = types.str;
          example = "sso.example.org";
          description = "The app's domain; its health probe goes there.";
        };
        stateful = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Snapshot its volumes (while undeployed) before an upgrade and
            restore them on rollback (e.g. keycloak). Stateless apps (e.g.
            traefik) roll back by redeploying the prior release only.
          '';
        };
        schedule = mkOption {
          type = types.nullOr types.str;
          default = "daily";
          example = "Mon *-*-* 04:00:00";
          description = ''
            systemd OnCalendar expression for ccci-reconcile-${name}.timer
            (Persistent). null: no timer of its own; the nightly sweep still
            reconciles it first.
          '';
        };
        health = section "How the health gate judges a freshly deployed release of ${name}." healthOptions;
      };
    };

  executablesDefault = import ../pkgs {
    inherit pkgs;
    abra = cfg.abraPackage;
  };
in
{
  options.services.ccci = {
    enable = lib.mkEnableOption "ccci, CI for Co-op Cloud recipes";

    # mkPackageOption, but without its throw when nixpkgs has no abra
    # (nixos-25.11 may not): null then, and one assertion says what to set.
    abraPackage =
      lib.mkPackageOption pkgs "abra" {
        nullable = true;
        extraDescription = ''
          Every executable uses it: on their PATH and, as its `bin/abra`, in
          the config file. null (the default when nixpkgs has no abra) is
          refused by an assertion; docs/nix.md shows an overlay that builds
          abra from its source tag.
        '';
      }
      // {
        default = pkgs.abra or null;
        defaultText = lib.literalMD "`pkgs.abra` when nixpkgs has it, else `null`";
      };

    packages = mkOption {
      type = types.submodule {
        options = lib.genAttrs jobs (
          job:
          mkOption {
            type = types.package;
            default = executablesDefault."ccci-${job}";
            defaultText = lib.literalMD ''
              with the flake's `nixosModules.default`: the flake's own
              `packages.<system>.ccci-${job}` (the pin decides), built with
              `services.ccci.abraPackage`; with `modules/ccci.nix` alone: the
              same package built from the host's `pkgs`
            '';
            description = "The package providing `bin/ccci-${job}` with its runtime tools on its PATH.";
          }
        );
      };
      default = { };
      description = ''
        One package per executable (pkgs/jobs.nix). Those that call abra must
        be built with `services.ccci.abraPackage` (asserted).
      '';
    };

    baseDomain = mkOption {
      type = types.str;
      example = "ci.example.org";
      description = ''
        Domain under which test apps are deployed: a run's app is
        `<recipe[:4]>-<6hex>.<baseDomain>`, a canonical app
        `warm-<recipe>.<baseDomain>`. Needs a wildcard DNS record pointing at
        this host. Lowercase, at least two labels.
      '';
    };

    stateDir = mkOption {
      type = types.str;
      default = "/var/lib/ccci";
      example = "/srv/ccci";
      description = ''
        Absolute path of the one directory holding ccci's state: canonicals
        and their snapshots, infra last_good, alerts, run results, locks.
        Created by systemd-tmpfiles (0750 root).
      '';
    };

    recipeSource = mkOption {
      type = types.str;
      default = "https://git.coopcloud.tech/coop-cloud/{recipe}.git";
      example = "https://git.example.org/mirror/{recipe}.git";
      description = ''
        Git URL template every recipe is cloned from; `{recipe}` is replaced
        by the recipe name. (A per-recipe source is not supported yet:
        ccci/pure/config.py has no such field.)
      '';
    };

    server = mkOption {
      type = types.str;
      default = "default";
      description = "The abra server apps are deployed to; `default` is abra's name for the local Docker daemon.";
    };

    ingress = mkOption {
      type = types.enum [
        "domain"
        "host-port"
        "local-proxy"
      ];
      default = "domain";
      description = ''
        How ccci reaches an app over HTTP. `domain`: `https://<app domain>/`
        through the host's proxy (traefik), the choice for a real host.
        `local-proxy`: the same, but connecting to the proxy on 127.0.0.1
        whatever the domain resolves to (SNI and Host stay the domain), for
        a host whose domains no DNS knows; the host's resolver is unchanged.
        `host-port`: the port the swarm published, with the domain as Host
        header; only for a test bed without a proxy or DNS.
      '';
    };

    caCertificates = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/ccci-testbed/tls/ca.pem";
      description = ''
        A PEM file of the certificate authorities that apps' HTTPS (ccci's
        probes and the tests it runs) is verified against instead of the
        system's trust store, e.g. a private CA; null: the system's store.
        Verification is never switched off. Not a secret: a plain path.
      '';
    };

    domainChecks = mkOption {
      type = types.bool;
      default = true;
      description = "Let abra check that an app's domain resolves to this server before deploying; false passes `--no-domain-checks` (per-run domains that no DNS knows).";
    };

    keepRuns = mkOption {
      type = types.ints.positive;
      default = 50;
      description = "Run artifact folders kept under stateDir; older ones are removed.";
    };

    maxConcurrentRuns = mkOption {
      type = types.ints.positive;
      default = 2;
      description = "Global cap on runs (cold, quick, promotion) at the same time, across every job.";
    };

    minFreeDiskMiB = mkOption {
      type = types.ints.unsigned;
      default = 2048;
      description = "A run refuses to start (and alerts) with less free disk than this under stateDir.";
    };

    timeouts = section "Upper bounds, in seconds, on every wait a run makes (docs/cold.md)." {
      converge = timeout 300 "until a deployed app has converged (replicas, health)";
      undeploy = timeout 120 "until an undeployed app's services are gone";
      http = timeout 60 "until an app answers over HTTP";
      abra = timeout 900 "for one abra call";
      tests = timeout 900 "for one test stage (generic or the recipe's own)";
      lock = timeout 3600 "for a run slot or an app's lock";
      engineBack = timeout 120 "for a restarted Docker engine, before a run's teardown gives up and reports its leftovers";
    };

    enroll = mkOption {
      type = types.attrsOf (types.submodule enrollEntry);
      default = { };
      example = literalExpression ''
        {
          custom-html = { canonical = true; };
          lasuite-docs = { canonical = true; needs = [ "keycloak" ]; timeout = 5400; };
        }
      '';
      description = ''
        Enrolled recipes, by recipe name. The nightly sweep cold-runs each at
        its latest release; `canonical` ones keep a warm app for --quick.
        Removing an entry lets the pruner drop its canonical state.
      '';
    };

    infra = mkOption {
      type = types.attrsOf (types.submodule infraEntry);
      default = { };
      example = literalExpression ''
        {
          traefik = { domain = "ci.example.org"; health.path = "/"; health.status = [ 200 404 ]; };
          keycloak = { domain = "sso.ci.example.org"; stateful = true; health.path = "/realms/master"; };
        }
      '';
      description = ''
        Warm infrastructure apps, by app name, kept on their latest release
        by `ccci-reconcile <name>` behind the safety and health gates
        (ccci-reconcile-<name>.service, with a timer when `schedule` is set).
      '';
    };

    keycloak = mkOption {
      type = types.nullOr (
        types.submodule {
          options = {
            url = mkOption {
              type = types.str;
              example = "https://sso.ci.example.org";
              description = "Base URL of the warm Keycloak's admin API.";
            };
            adminUser = mkOption {
              type = types.str;
              default = "admin";
              description = "Keycloak admin user (master realm).";
            };
            adminPasswordFile = mkOption {
              type = types.str;
              example = "/run/secrets/ccci-keycloak-admin";
              description = secretFileText "the Keycloak admin password";
            };
            verifyTls = mkOption {
              type = types.bool;
              default = true;
              description = "Verify the Keycloak's TLS certificate.";
            };
          };
        }
      );
      default = null;
      description = "The warm Keycloak that per-run realms live on; null when no enrolled recipe needs it.";
    };

    alerts = mkOption {
      type = types.nullOr (
        types.submodule {
          options = {
            pushUrl = mkOption {
              type = types.str;
              example = "https://ntfy.example.org/ccci";
              description = "ntfy-compatible URL every alert is pushed to (alerts are also written under stateDir).";
            };
            tokenFile = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = secretFileText "the push bearer token" + " null: no token.";
            };
            timeout = mkOption {
              type = types.ints.positive;
              default = 10;
              description = "Seconds one push may take.";
            };
          };
        }
      );
      default = null;
      description = "Push alerts; null: alerts are only written under stateDir.";
    };

    # Host only (not in the config file): the timer, swarm mode, pruning and
    # the bridge unit. `hostOnly` below lists them for the rendering.
    nightly = section "The nightly sweep: reconcile every infra app, then cold-run every enrolled recipe, serially." {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Start ccci-nightly.service from ccci-nightly.timer. The service exists either way (`systemctl start ccci-nightly`).";
      };
      onCalendar = mkOption {
        type = types.str;
        default = "*-*-* 03:00:00";
        description = "systemd OnCalendar expression of the sweep (Persistent: a missed sweep runs at boot).";
      };
      randomizedDelaySec = mkOption {
        type = types.ints.unsigned;
        default = 600;
        description = "Random delay, in seconds, added to each start.";
      };
      timeoutSec = mkOption {
        type = types.ints.positive;
        default = 6 * 3600;
        description = "Ceiling on the whole sweep (TimeoutStartSec); each recipe is bounded by its own `enroll.<name>.timeout`.";
      };
    };

    swarm = section "Docker swarm mode on this host." {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Run ccci-swarm-init.service: `docker swarm init` once if the engine is not a swarm manager yet, and create the `proxy` overlay network.";
      };
      advertiseAddr = mkOption {
        type = types.str;
        default = "127.0.0.1";
        description = "`--advertise-addr` for `docker swarm init` (an IP address or interface name).";
      };
    };

    dockerPrune = section "Disk pruning of Docker objects that never touches volumes." {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Prune Docker images, containers and build cache (virtualisation.docker.autoPrune).";
      };
      dates = mkOption {
        type = types.str;
        default = "weekly";
        description = "systemd OnCalendar expression of the prune.";
      };
      flags = mkOption {
        type = types.listOf types.str;
        default = [
          "--all"
          "--filter"
          "until=24h"
        ];
        description = "Flags to `docker system prune`. Never `--volumes` (asserted): warm canonicals and snapshots live in volumes.";
      };
    };

    statusPage = section "The operator's status page (docs/status.md): a static site rendered from stateDir by ccci-status." {
      enable = lib.mkEnableOption ''
        the status page: ccci-status.service renders it from its timer, and
        every job refreshes it when it ends
      '';
      dir = mkOption {
        type = types.str;
        default = "${cfg.stateDir}/status";
        defaultText = literalExpression ''"''${config.services.ccci.stateDir}/status"'';
        description = ''
          Absolute path the site appears at: a symlink that ccci-status swaps
          onto each new render, whose generations live beside it (so its
          parent must be writable by root). Nothing else may live there.
        '';
      };
      baseUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://status.ci.example.org/";
        description = ''
          The http(s) URL `dir` is served at, for links to a run's page from
          elsewhere (the bridge's PR comment). null: no such links.
        '';
      };
      runsPerRecipe = mkOption {
        type = types.ints.positive;
        default = 10;
        description = "The latest N runs of each recipe shown (the state keeps `keepRuns` runs in all).";
      };
      onCalendar = mkOption {
        type = types.str;
        default = "*:0/5";
        description = ''
          systemd OnCalendar expression of ccci-status.timer (Persistent):
          renders what no job saw end (a lock released, an alert, the disk).
        '';
      };
      nginx = section "Serving the page with this host's nginx." {
        enable = lib.mkEnableOption ''
          an nginx virtual host that serves `dir` read-only, with the run
          artifacts it links (`<stateDir>/runs`, through the site's
          `artifacts` symlink). nginx's user gets traverse-only access to
          stateDir (an ACL): it can open the page and the run folders, and
          list nothing'';
        virtualHost = mkOption {
          type = types.str;
          example = "status.ci.example.org";
          description = ''
            Name of the services.nginx.virtualHosts entry that serves the page
            at `/`. TLS and access control are yours to add to that entry
            (e.g. `forceSSL`, `enableACME`, `basicAuthFile`); they merge.
          '';
        };
      };
    };

    bridge = section "The `!testme` bridge (docs/bridge.md)." {
      enable = lib.mkEnableOption "ccci-bridge.service (`!testme` PR comments to Drone builds)";
      mode = mkOption {
        type = types.enum [
          "serve"
          "poll"
        ];
        default = "serve";
        description = "`serve`: receive forge webhooks; `poll`: poll open pull requests instead.";
      };
      settings = section "The bridge's JSON config (ccci/pure/bridge_config.py), camelCase; secrets as files." {
        forge = mkOption {
          type = types.submodule {
            options = {
              kind = mkOption {
                type = types.enum [
                  "gitea"
                  "forgejo"
                ];
                description = "The forge's kind.";
              };
              url = mkOption {
                type = types.str;
                description = "The forge's base URL.";
              };
              tokenFile = mkOption {
                type = types.str;
                description = secretFileText "the forge API token";
              };
              webhookSecretFile = mkOption {
                type = types.str;
                description = secretFileText "the webhook secret";
              };
            };
          };
          description = "The Gitea or Forgejo instance the pull requests live on.";
        };
        drone = mkOption {
          type = types.submodule {
            options = {
              url = mkOption {
                type = types.str;
                description = "Drone's base URL.";
              };
              tokenFile = mkOption {
                type = types.str;
                description = secretFileText "the Drone API token";
              };
              repo = mkOption {
                type = types.str;
                example = "ci/ccci";
                description = "The Drone repository (owner/name) whose pipeline runs ccci.";
              };
              branch = mkOption {
                type = types.str;
                default = "main";
                description = "Branch of that repository the builds run on.";
              };
            };
          };
          description = "The Drone repository whose pipeline runs ccci with RECIPE, REF and MODE.";
        };
        repos = mkOption {
          type = types.attrsOf types.str;
          example = {
            "coop-cloud/custom-html" = "custom-html";
          };
          description = "Forge repository (owner/name) -> the recipe its pull requests change.";
        };
        listenAddress = mkOption {
          type = types.str;
          default = "127.0.0.1";
          description = "IP address the webhook endpoint listens on.";
        };
        listenPort = mkOption {
          type = types.port;
          default = 8787;
          description = "Port the webhook endpoint listens on.";
        };
        allowlist = mkOption {
          type = types.nullOr (types.listOf types.str);
          default = null;
          description = "Forge logins allowed to trigger; null: repository collaborators and org members.";
        };
        stateDir = mkOption {
          type = types.str;
          default = "${cfg.stateDir}/bridge";
          defaultText = literalExpression ''"''${config.services.ccci.stateDir}/bridge"'';
          description = "The bridge's state directory (created by systemd-tmpfiles, 0750 root).";
        };
        pollInterval = mkOption {
          type = types.either types.ints.positive types.float;
          default = 60.0;
          description = "Seconds between polls and between result reports.";
        };
        maxBodyBytes = mkOption {
          type = types.ints.positive;
          default = 1048576;
          description = "Largest webhook body accepted (at least 1024).";
        };
        httpTimeout = mkOption {
          type = types.either types.ints.positive types.float;
          default = 10.0;
          description = "Seconds one HTTP call to the forge or Drone may take.";
        };
        ccciConfig = mkOption {
          type = types.nullOr types.str;
          default = if statusPage.enable then "/etc/ccci/config.json" else null;
          defaultText = literalExpression ''if config.services.ccci.statusPage.enable then "/etc/ccci/config.json" else null'';
          description = ''
            ccci's own config file, for its status page: the bridge refreshes
            the page on its events (a build queued, a result posted) and, when
            statusPage.baseUrl is set, links each PR comment to the run's page.
            null: neither.
          '';
        };
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.abraPackage != null;
        message = "services.ccci.abraPackage is null: this nixpkgs has no `abra`. Set services.ccci.abraPackage to an abra package, e.g. from the overlay in ccci's docs/nix.md that builds abra from its source tag.";
      }
      {
        # Also catches --volumes set on the NixOS options directly, and a
        # volume prune where the pinned docker module offers one.
        assertion =
          !(builtins.any (f: lib.hasPrefix "--volumes" f) pruneFlags)
          && !(config.virtualisation.docker.autoPrune.allVolumes.enable or false);
        message = "virtualisation.docker.autoPrune must never prune volumes on a ccci host (flags ${builtins.toJSON pruneFlags}; services.ccci.dockerPrune.flags): warm canonicals and their known-good snapshots live in Docker volumes.";
      }
    ]
    # Every executable that takes abra (passthru.abra) must take this one.
    ++ map (job: {
      assertion =
        cfg.abraPackage == null
        || !(cfg.packages.${job} ? abra)
        || cfg.packages.${job}.abra.outPath == cfg.abraPackage.outPath;
      message = "services.ccci.packages.${job} was built with another abra than services.ccci.abraPackage; the config file and the executable's PATH would disagree (build it with `abra = config.services.ccci.abraPackage`).";
    }) jobs
    ++ [
      {
        assertion = statusPage.nginx.enable -> statusPage.enable;
        message = "services.ccci.statusPage.nginx.enable serves a page nothing renders: set services.ccci.statusPage.enable too.";
      }
    ]
    ++ lib.mapAttrsToList (name: e: {
      assertion = builtins.elem "keycloak" e.needs -> cfg.keycloak != null;
      message = ''services.ccci.enroll.${name}.needs: ["keycloak"] requires services.ccci.keycloak to be set (the warm Keycloak its per-run realms live on).'';
    }) cfg.enroll
    ++ lib.mapAttrsToList (name: e: {
      assertion = e.ssoEnv != { } -> builtins.elem "keycloak" e.needs;
      message = ''services.ccci.enroll.${name}.ssoEnv takes the values of a run's realm: it needs needs = [ "keycloak" ].'';
    }) cfg.enroll
    ++ secretAssertions;

    environment.etc."ccci/config.json".source = json.generate "ccci-config.json" (configWith operatorFile);
    environment.etc."ccci/bridge.json" = lib.mkIf cfg.bridge.enable {
      source = json.generate "ccci-bridge-config.json" (bridgeWith operatorFile);
    };
    environment.systemPackages = map (job: cfg.packages.${job}) jobs;

    systemd.tmpfiles.settings."10-ccci" = lib.mkMerge [
      (lib.genAttrs ([ cfg.stateDir ] ++ lib.optional cfg.bridge.enable cfg.bridge.settings.stateDir) (_: {
        d = {
          mode = "0750";
          user = "root";
          group = "root";
        };
      }))
      # nginx may pass through stateDir (and the folder the page lives in),
      # never list or read it: what it serves is the page's generation and,
      # through its `artifacts` link, <stateDir>/runs (0755, as ccci makes it).
      (lib.mkIf serveStatusPage (
        lib.genAttrs (lib.unique [
          cfg.stateDir
          (dirOf statusPage.dir)
        ]) (_: { "a+".argument = "u:${config.services.nginx.user}:--x"; })
      ))
    ];

    systemd.services = services;
    systemd.timers = timers;

    services.nginx = lib.mkIf serveStatusPage {
      enable = true;
      virtualHosts.${statusPage.nginx.virtualHost} = {
        # A symlink to the current generation: nginx resolves it per request,
        # so a render swaps the site under it (docs/status.md).
        root = statusPage.dir;
        locations."/" = {
          index = "index.html";
          extraConfig = ''
            # `artifacts` links to <stateDir>/runs: follow it (nginx's default, said aloud).
            disable_symlinks off;
            limit_except GET HEAD { deny all; }
            autoindex off;
            # Logs and transcripts open as text in the browser.
            types { text/html html; application/json json; application/xml xml; image/svg+xml svg; text/plain log txt; }
            default_type text/plain;
            charset utf-8;
          '';
        };
      };
    };

    virtualisation.docker = {
      enable = true;
      # Defaults only: an operator's own autoPrune settings win without a
      # conflict (the assertion above still refuses volume pruning).
      autoPrune = lib.mapAttrs (_: lib.mkDefault) {
        inherit (cfg.dockerPrune) enable dates flags;
      };
    };
  };
}
