# services.ccci: CI for Co-op Cloud recipes on a NixOS host.
#
# This file declares options and hands NixOS what ./lib/default.nix computes
# from them (builtins only, evaluated offline by tests/nix):
# - /etc/ccci/config.json, the one JSON file every ccci executable loads
#   (ccci/config.py, unknown keys rejected), and /etc/ccci/bridge.json;
# - ccci-nightly.service/.timer, ccci-reconcile-<name>.service/.timer per warm
#   infra app, ccci-swarm-init.service, ccci-bridge.service; each job unit
#   reads its own JSON whose secret paths are under /run/credentials/<unit>/,
#   filled by LoadCredential (no secret ever enters the store);
# - Docker with swarm mode and an image prune that never touches volumes.
# Enrollment follows nixpkgs' services.restic.backups: attrsOf (submodule
# ({ name, ... }: ...)), assertions per entry naming the full option path.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.ccci;
  d = import ./lib/defaults.nix;
  inherit (lib) mkOption types literalExpression;
  json = pkgs.formats.json { };

  jobs = [
    "run"
    "quick"
    "snapshot"
    "reconcile"
    "nightly"
    "bridge"
  ];
  # The executables that call abra and must use the abra the config names.
  abraJobs = [
    "run"
    "quick"
    "snapshot"
    "reconcile"
    "nightly"
  ];
  bin = job: "${cfg.packages.${job}}/bin/ccci-${job}";

  # The options, as the closed settings set the logic takes (no `_module`,
  # no packages; Nix paths of overlay tests copied to the store as strings).
  settings = {
    inherit (cfg)
      baseDomain
      stateDir
      recipeSource
      server
      ingress
      keepRuns
      maxConcurrentRuns
      minFreeDiskMiB
      ;
    abra = "${cfg.abraPackage}/bin/abra";
    timeouts = {
      inherit (cfg.timeouts)
        converge
        undeploy
        http
        abra
        tests
        lock
        ;
    };
    enroll = lib.mapAttrs (_: e: {
      inherit (e) canonical needs timeout;
      overlayTests = if e.overlayTests == null then null else "${e.overlayTests}";
    }) cfg.enroll;
    infra = lib.mapAttrs (_: a: {
      inherit (a)
        recipe
        domain
        stateful
        schedule
        ;
      health = {
        inherit (a.health)
          path
          status
          contains
          window
          samples
          poll
          ;
      };
    }) cfg.infra;
    keycloak =
      if cfg.keycloak == null then
        null
      else
        {
          inherit (cfg.keycloak)
            url
            adminUser
            adminPasswordFile
            verifyTls
            ;
        };
    alerts =
      if cfg.alerts == null then
        null
      else
        {
          inherit (cfg.alerts) pushUrl tokenFile timeout;
        };
    nightly = {
      inherit (cfg.nightly)
        enable
        onCalendar
        randomizedDelaySec
        timeoutSec
        ;
    };
    swarm = {
      inherit (cfg.swarm) enable advertiseAddr;
    };
    dockerPrune = {
      inherit (cfg.dockerPrune) enable dates flags;
    };
    bridge = {
      inherit (cfg.bridge) enable mode;
      # Only read when enabled: forge and drone have no defaults.
      settings =
        if !cfg.bridge.enable then
          null
        else
          let
            b = cfg.bridge.settings;
          in
          {
            forge = {
              inherit (b.forge)
                kind
                url
                tokenFile
                webhookSecretFile
                ;
            };
            drone = {
              inherit (b.drone)
                url
                tokenFile
                repo
                branch
                ;
            };
            inherit (b)
              repos
              listenAddress
              listenPort
              allowlist
              stateDir
              pollInterval
              maxBodyBytes
              httpTimeout
              ;
          };
    };
  };

  logic = import ./lib {
    inherit settings;
    executables = lib.genAttrs jobs bin;
    writeJSON = name: value: json.generate name value;
    docker = "${config.virtualisation.docker.package}/bin/docker";
    # Problems are reported as assertions below, each with its option path.
    strict = false;
  };

  # The logic's unit descriptions, with argv quoted for ExecStart.
  toService =
    _: unit:
    builtins.removeAttrs unit [ "exec" ]
    // lib.optionalAttrs (unit ? exec) {
      serviceConfig = unit.serviceConfig // {
        ExecStart = lib.escapeShellArgs unit.exec;
      };
    };

  secretFileText = what: ''
    Absolute path of a file on the host holding ${what} (one line), e.g. a
    sops-nix or agenix secret. Never a Nix path or a store path: the file is
    handed to the units by systemd LoadCredential and the JSON names
    /run/credentials/<unit>.service/<name>, never the secret.
  '';

  healthOptions = {
    path = mkOption {
      type = types.str;
      default = d.infra.health.path;
      example = "/realms/master";
      description = "Path the health probe GETs on the app's domain; starts with `/`.";
    };
    status = mkOption {
      type = types.nonEmptyListOf types.int;
      default = d.infra.health.status;
      description = "HTTP status codes the probe accepts as healthy (100-599).";
    };
    contains = mkOption {
      type = types.nullOr types.str;
      default = d.infra.health.contains;
      description = "Text the response body must contain, or null for any body.";
    };
    window = mkOption {
      type = types.ints.unsigned;
      default = d.infra.health.window;
      description = ''
        Seconds a freshly deployed release is watched. ccci raises it to the
        slowest service's start_period + interval x retries; it must also
        cover the image pull and start.
      '';
    };
    samples = mkOption {
      type = types.ints.positive;
      default = d.infra.health.samples;
      description = "Consecutive healthy polls required at the end of the window.";
    };
    poll = mkOption {
      type = types.either types.ints.positive types.float;
      default = d.infra.health.poll;
      description = "Seconds between health polls (positive).";
    };
  };

  enrollEntry =
    { name, ... }:
    {
      options = {
        canonical = mkOption {
          type = types.bool;
          default = d.enroll.canonical;
          description = ''
            Keep a warm canonical app `warm-${name}.<baseDomain>` for
            `ccci-quick ${name} REF`, re-seeded (promoted) by every green cold
            run of ${name} on its latest release, e.g. the nightly one.
          '';
        };
        overlayTests = mkOption {
          type = types.nullOr types.path;
          default = d.enroll.overlayTests;
          example = literalExpression "./recipe-tests/${name}";
          description = ''
            A directory of pytest files run after the generic tests for
            ${name} (the recipe's own tests live in the recipe). A Nix path is
            copied to the store; a string is used as is.
          '';
        };
        needs = mkOption {
          type = types.listOf (types.enum [ "keycloak" ]);
          default = d.enroll.needs;
          example = [ "keycloak" ];
          description = ''
            Shared infrastructure the tests of ${name} use. `keycloak`: each
            run gets its own realm on the warm Keycloak (needs
            `services.ccci.keycloak`).
          '';
        };
        timeout = mkOption {
          type = types.ints.positive;
          default = d.enroll.timeout;
          description = "Seconds one cold run of ${name} may take in the nightly sweep before it is stopped (it still tears down).";
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
          default = d.infra.stateful;
          description = ''
            Snapshot its volumes (while undeployed) before an upgrade and
            restore them on rollback (e.g. keycloak). Stateless apps (e.g.
            traefik) roll back by redeploying the prior release only.
          '';
        };
        schedule = mkOption {
          type = types.nullOr types.str;
          default = d.infra.schedule;
          example = "Mon *-*-* 04:00:00";
          description = ''
            systemd OnCalendar expression for ccci-reconcile-${name}.timer
            (Persistent). null: no timer of its own; the nightly sweep still
            reconciles it first.
          '';
        };
        health = mkOption {
          type = types.submodule { options = healthOptions; };
          default = { };
          description = "How the health gate judges a freshly deployed release of ${name}.";
        };
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

    abraPackage = mkOption {
      type = types.package;
      default = pkgs.abra;
      defaultText = literalExpression "pkgs.abra";
      description = ''
        The abra every executable uses: on their PATH and, as
        `<abraPackage>/bin/abra`, in the config file.
      '';
    };

    packages = mkOption {
      type = types.submodule {
        options = lib.genAttrs jobs (
          job:
          mkOption {
            type = types.package;
            default = executablesDefault."ccci-${job}";
            defaultText = literalExpression "(import <ccci>/pkgs { inherit pkgs; abra = config.services.ccci.abraPackage; }).ccci-${job}";
            description = "The package providing `bin/ccci-${job}` with its runtime tools on its PATH.";
          }
        );
      };
      default = { };
      description = ''
        One package per executable (pkgs/ccci-*). Those that call abra must
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
      default = d.stateDir;
      description = ''
        Absolute path of the one directory holding ccci's state: canonicals
        and their snapshots, infra last_good, alerts, run results, locks.
        Created by systemd-tmpfiles (0750 root).
      '';
    };

    recipeSource = mkOption {
      type = types.str;
      default = d.recipeSource;
      example = "https://git.example.org/mirror/{recipe}.git";
      description = ''
        Git URL template every recipe is cloned from; `{recipe}` is replaced
        by the recipe name. (A per-recipe source is not supported yet:
        ccci/config.py has no such field.)
      '';
    };

    server = mkOption {
      type = types.str;
      default = d.server;
      description = "The abra server apps are deployed to; `default` is abra's name for the local Docker daemon.";
    };

    ingress = mkOption {
      type = types.enum [
        "domain"
        "host-port"
      ];
      default = d.ingress;
      description = ''
        How ccci reaches an app over HTTP. `domain`: `https://<app domain>/`
        through the host's proxy (traefik), the choice for a real host.
        `host-port`: the port the swarm published, with the domain as Host
        header; only for a test bed without a proxy or DNS.
      '';
    };

    keepRuns = mkOption {
      type = types.ints.positive;
      default = d.keepRuns;
      description = "Run artifact folders kept under stateDir; older ones are removed.";
    };

    maxConcurrentRuns = mkOption {
      type = types.ints.positive;
      default = d.maxConcurrentRuns;
      description = "Global cap on runs (cold, quick, promotion) at the same time, across every job.";
    };

    minFreeDiskMiB = mkOption {
      type = types.ints.unsigned;
      default = d.minFreeDiskMiB;
      description = "A run refuses to start (and alerts) with less free disk than this under stateDir.";
    };

    timeouts = mkOption {
      type = types.submodule {
        options = lib.mapAttrs (
          name: default:
          mkOption {
            type = types.ints.positive;
            inherit default;
            description = "Upper bound in seconds on the `${name}` wait of a run (see docs/cold.md).";
          }
        ) d.timeouts;
      };
      default = { };
      description = "Upper bounds, in seconds, on every wait a run makes: converge, undeploy, http, abra, tests, lock.";
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
              default = d.keycloak.adminUser;
              description = "Keycloak admin user (master realm).";
            };
            adminPasswordFile = mkOption {
              type = types.str;
              example = "/run/secrets/ccci-keycloak-admin";
              description = secretFileText "the Keycloak admin password";
            };
            verifyTls = mkOption {
              type = types.bool;
              default = d.keycloak.verifyTls;
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
              default = d.alerts.tokenFile;
              description = secretFileText "the push bearer token" + " null: no token.";
            };
            timeout = mkOption {
              type = types.ints.positive;
              default = d.alerts.timeout;
              description = "Seconds one push may take.";
            };
          };
        }
      );
      default = null;
      description = "Push alerts; null: alerts are only written under stateDir.";
    };

    nightly = mkOption {
      type = types.submodule {
        options = {
          enable = mkOption {
            type = types.bool;
            default = d.nightly.enable;
            description = "Start ccci-nightly.service from ccci-nightly.timer. The service exists either way (`systemctl start ccci-nightly`).";
          };
          onCalendar = mkOption {
            type = types.str;
            default = d.nightly.onCalendar;
            description = "systemd OnCalendar expression of the sweep (Persistent: a missed sweep runs at boot).";
          };
          randomizedDelaySec = mkOption {
            type = types.ints.unsigned;
            default = d.nightly.randomizedDelaySec;
            description = "Random delay, in seconds, added to each start.";
          };
          timeoutSec = mkOption {
            type = types.ints.positive;
            default = d.nightly.timeoutSec;
            description = "Ceiling on the whole sweep (TimeoutStartSec); each recipe is bounded by its own `enroll.<name>.timeout`.";
          };
        };
      };
      default = { };
      description = "The nightly sweep: reconcile every infra app, then cold-run every enrolled recipe, serially.";
    };

    swarm = mkOption {
      type = types.submodule {
        options = {
          enable = mkOption {
            type = types.bool;
            default = d.swarm.enable;
            description = "Run ccci-swarm-init.service: `docker swarm init` once if the engine is not a swarm manager yet, and create the `proxy` overlay network.";
          };
          advertiseAddr = mkOption {
            type = types.str;
            default = d.swarm.advertiseAddr;
            description = "`--advertise-addr` for `docker swarm init` (an IP address or interface name).";
          };
        };
      };
      default = { };
      description = "Docker swarm mode on this host.";
    };

    dockerPrune = mkOption {
      type = types.submodule {
        options = {
          enable = mkOption {
            type = types.bool;
            default = d.dockerPrune.enable;
            description = "Prune Docker images, containers and build cache (virtualisation.docker.autoPrune).";
          };
          dates = mkOption {
            type = types.str;
            default = d.dockerPrune.dates;
            description = "systemd OnCalendar expression of the prune.";
          };
          flags = mkOption {
            type = types.listOf types.str;
            default = d.dockerPrune.flags;
            description = "Flags to `docker system prune`. Never `--volumes` (asserted): warm canonicals and snapshots live in volumes.";
          };
        };
      };
      default = { };
      description = "Disk pruning of Docker objects that never touches volumes.";
    };

    bridge = mkOption {
      type = types.submodule {
        options = {
          enable = lib.mkEnableOption "ccci-bridge.service (`!testme` PR comments to Drone builds)";
          mode = mkOption {
            type = types.enum [
              "serve"
              "poll"
            ];
            default = d.bridge.mode;
            description = "`serve`: receive forge webhooks; `poll`: poll open pull requests instead.";
          };
          settings = mkOption {
            type = types.submodule {
              options = {
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
                        default = d.bridge.settings.drone.branch;
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
                  default = d.bridge.settings.listenAddress;
                  description = "IP address the webhook endpoint listens on.";
                };
                listenPort = mkOption {
                  type = types.port;
                  default = d.bridge.settings.listenPort;
                  description = "Port the webhook endpoint listens on.";
                };
                allowlist = mkOption {
                  type = types.nullOr (types.listOf types.str);
                  default = d.bridge.settings.allowlist;
                  description = "Forge logins allowed to trigger; null: repository collaborators and org members.";
                };
                stateDir = mkOption {
                  type = types.nullOr types.str;
                  default = d.bridge.settings.stateDir;
                  defaultText = literalExpression ''"''${config.services.ccci.stateDir}/bridge"'';
                  description = "The bridge's state directory; null: `<stateDir>/bridge`.";
                };
                pollInterval = mkOption {
                  type = types.either types.ints.positive types.float;
                  default = d.bridge.settings.pollInterval;
                  description = "Seconds between polls and between result reports.";
                };
                maxBodyBytes = mkOption {
                  type = types.ints.positive;
                  default = d.bridge.settings.maxBodyBytes;
                  description = "Largest webhook body accepted (at least 1024).";
                };
                httpTimeout = mkOption {
                  type = types.either types.ints.positive types.float;
                  default = d.bridge.settings.httpTimeout;
                  description = "Seconds one HTTP call to the forge or Drone may take.";
                };
              };
            };
            default = { };
            description = "The bridge's JSON config (ccci/bridge/config.py), camelCase; secrets as files.";
          };
        };
      };
      default = { };
      description = "The `!testme` bridge (docs/bridge.md).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      map (message: {
        assertion = false;
        inherit message;
      }) logic.problems
      ++ map (job: {
        assertion = !(cfg.packages.${job} ? abra) || cfg.packages.${job}.abra.outPath == cfg.abraPackage.outPath;
        message = "services.ccci.packages.${job} was built with another abra than services.ccci.abraPackage; the config file and the executable's PATH would disagree (build it with `abra = config.services.ccci.abraPackage`).";
      }) abraJobs
      ++ [
        {
          # Also catches a --volumes set on the NixOS option directly.
          assertion = !(builtins.any (f: lib.hasPrefix "--volumes" f) config.virtualisation.docker.autoPrune.flags);
          message = "virtualisation.docker.autoPrune.flags must never include --volumes on a ccci host (services.ccci.dockerPrune.flags): warm canonicals and their known-good snapshots live in Docker volumes.";
        }
      ];

    environment.etc."ccci/config.json".source = json.generate "ccci-config.json" logic.config;
    environment.etc."ccci/bridge.json" = lib.mkIf (logic.bridge != null) {
      source = json.generate "ccci-bridge-config.json" logic.bridge;
    };
    environment.systemPackages = map (job: cfg.packages.${job}) jobs;

    systemd.tmpfiles.settings."10-ccci" = {
      ${cfg.stateDir}.d = {
        mode = "0750";
        user = "root";
        group = "root";
      };
    }
    // lib.optionalAttrs (logic.bridge != null) {
      ${logic.bridgeStateDir}.d = {
        mode = "0750";
        user = "root";
        group = "root";
      };
    };

    systemd.services = lib.mapAttrs toService logic.units.services;
    systemd.timers = logic.units.timers;

    virtualisation.docker = {
      enable = true;
      autoPrune = {
        inherit (cfg.dockerPrune) enable dates flags;
      };
    };
  };
}
