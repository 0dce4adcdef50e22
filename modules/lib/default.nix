# services.ccci's logic, builtins only: settings -> the JSON files ccci reads
# and the systemd units and timers that run it. modules/ccci.nix only declares
# options and hands the result to NixOS; tests/nix evaluates this file offline
# with plain `nix-instantiate --eval --strict --json` (no nixpkgs, no lib).
#
# Invariants:
# - The JSON keys are exactly ccci/config.py's (and ccci/bridge/config.py's):
#   the Python side rejects unknown keys, so the settings here are closed too
#   (./types.nix): an unknown or mistyped setting fails evaluation with its
#   full option path, e.g. `services.ccci.enroll.fx-web.canonial`.
# - Values ccci would refuse at start-up are `problems` (the module turns them
#   into assertions), each naming the full option path.
# - No secret is ever in a JSON file or the store: a unit's JSON names
#   /run/credentials/<unit>.service/<name>, filled by systemd LoadCredential
#   from the operator's file. /etc/ccci/*.json, for runs started by hand as
#   root, name the operator's files themselves (a path, never the secret).
# - Units are ccci-<kind>[-<name>]; a timer exists only where asked
#   (nightly.enable, infra.<name>.schedule), always Persistent.
# - Docker pruning never gets `--volumes`: warm canonicals and their known-good
#   snapshots live in volumes.
{
  settings,
  # Absolute paths of the executables, by job: run quick snapshot reconcile
  # nightly bridge (the module passes its packages' bin paths).
  executables ? { },
  # name -> attrset -> path of a JSON file holding it (pkgs.formats.json in
  # the module; a fake store path offline).
  writeJSON ? name: _value: "/nix/store/00000000000000000000000000000000-${name}",
  # The docker CLI the swarm-init unit calls.
  docker ? "docker",
  # true: rendering throws when there are `problems` (offline use). The
  # module passes false and reports them as assertions instead.
  strict ? true,
}:
let
  t = import ./types.nix;
  d = import ./defaults.nix;
  inherit (t) field required;

  recipeName = "[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?";
  label = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

  healthFields = builtins.mapAttrs (n: v: field (healthTypes.${n}) v) d.infra.health;
  healthTypes = {
    path = t.str;
    status = t.listOf t.int;
    contains = t.nullOr t.str;
    window = t.int;
    samples = t.int;
    poll = t.number;
  };

  schema = t.submodule {
    baseDomain = required t.str;
    abra = required t.str;
    stateDir = field t.str d.stateDir;
    recipeSource = field t.str d.recipeSource;
    server = field t.str d.server;
    ingress = field (t.enum [
      "domain"
      "host-port"
    ]) d.ingress;
    keepRuns = field t.int d.keepRuns;
    maxConcurrentRuns = field t.int d.maxConcurrentRuns;
    minFreeDiskMiB = field t.int d.minFreeDiskMiB;
    timeouts = field (t.submodule (builtins.mapAttrs (_: v: field t.int v) d.timeouts)) d.timeouts;
    enroll = field (t.attrsOf (
      t.submodule {
        canonical = field t.bool d.enroll.canonical;
        overlayTests = field (t.nullOr t.str) d.enroll.overlayTests;
        needs = field (t.listOf (t.enum [ "keycloak" ])) d.enroll.needs;
        timeout = field t.int d.enroll.timeout;
      }
    )) { };
    infra = field (t.attrsOf (
      t.submodule {
        recipe = required t.str;
        domain = required t.str;
        stateful = field t.bool d.infra.stateful;
        schedule = field (t.nullOr t.str) d.infra.schedule;
        health = field (t.submodule healthFields) d.infra.health;
      }
    )) { };
    keycloak = field (t.nullOr (
      t.submodule {
        url = required t.str;
        adminPasswordFile = required t.str;
        adminUser = field t.str d.keycloak.adminUser;
        verifyTls = field t.bool d.keycloak.verifyTls;
      }
    )) null;
    alerts = field (t.nullOr (
      t.submodule {
        pushUrl = required t.str;
        tokenFile = field (t.nullOr t.str) d.alerts.tokenFile;
        timeout = field t.int d.alerts.timeout;
      }
    )) null;
    nightly = field (t.submodule {
      enable = field t.bool d.nightly.enable;
      onCalendar = field t.str d.nightly.onCalendar;
      randomizedDelaySec = field t.int d.nightly.randomizedDelaySec;
      timeoutSec = field t.int d.nightly.timeoutSec;
    }) d.nightly;
    swarm = field (t.submodule {
      enable = field t.bool d.swarm.enable;
      advertiseAddr = field t.str d.swarm.advertiseAddr;
    }) d.swarm;
    dockerPrune = field (t.submodule {
      enable = field t.bool d.dockerPrune.enable;
      dates = field t.str d.dockerPrune.dates;
      flags = field (t.listOf t.str) d.dockerPrune.flags;
    }) d.dockerPrune;
    bridge = field (t.submodule {
      enable = field t.bool d.bridge.enable;
      mode = field (t.enum [
        "serve"
        "poll"
      ]) d.bridge.mode;
      settings = field (t.nullOr (
        t.submodule {
          forge = required (
            t.submodule {
              kind = required (
                t.enum [
                  "gitea"
                  "forgejo"
                ]
              );
              url = required t.str;
              tokenFile = required t.str;
              webhookSecretFile = required t.str;
            }
          );
          drone = required (
            t.submodule {
              url = required t.str;
              tokenFile = required t.str;
              repo = required t.str;
              branch = field t.str d.bridge.settings.drone.branch;
            }
          );
          repos = required (t.attrsOf t.str);
          listenAddress = field t.str d.bridge.settings.listenAddress;
          listenPort = field t.int d.bridge.settings.listenPort;
          allowlist = field (t.nullOr (t.listOf t.str)) d.bridge.settings.allowlist;
          stateDir = field (t.nullOr t.str) d.bridge.settings.stateDir;
          pollInterval = field t.number d.bridge.settings.pollInterval;
          maxBodyBytes = field t.int d.bridge.settings.maxBodyBytes;
          httpTimeout = field t.number d.bridge.settings.httpTimeout;
        }
      )) null;
    }) (d.bridge // { settings = null; });
  };

  s = schema.check "services.ccci" settings;

  # --- checks that need more than a type: what ccci would refuse ----------

  isRecipe = v: builtins.match recipeName v != null;
  isDomain = v: builtins.stringLength v <= 253 && builtins.match "${label}([.]${label})+" v != null;
  isAbsolute = v: builtins.substring 0 1 v == "/";
  isUrl = v: builtins.match "https?://[^[:space:]/?#]+(/[^[:space:]]*)?" v != null;
  inStore = v: builtins.substring 0 11 v == "/nix/store/";
  # Secrets are read from a file on the host at run time; a store path would
  # be world-readable and outlive the secret.
  secretFileProblem =
    path: v:
    if !isAbsolute v then
      "${path}: expected an absolute path to a file on the host, got ${builtins.toJSON v}"
    else if inStore v then
      "${path}: ${builtins.toJSON v} is in the Nix store, which every local user can read; point it at a file outside the store (e.g. /run/secrets/...)"
    else
      null;
  when = cond: message: if cond then message else null;
  at = path: name: "${path}.${name}";

  topProblems = [
    (when (!isDomain s.baseDomain)
      "services.ccci.baseDomain: expected a lowercase DNS name like ci.example.org, got ${builtins.toJSON s.baseDomain}"
    )
    (when (!isAbsolute s.stateDir)
      "services.ccci.stateDir: expected an absolute path, got ${builtins.toJSON s.stateDir}"
    )
    (when (builtins.match ".*[{]recipe[}].*" s.recipeSource == null)
      "services.ccci.recipeSource: must contain '{recipe}', got ${builtins.toJSON s.recipeSource}"
    )
    (when (s.server == "") "services.ccci.server: must not be empty")
    (when (!isAbsolute s.abra)
      "services.ccci.abraPackage: its abra must be an absolute path, got ${builtins.toJSON s.abra}"
    )
    (when (s.keepRuns < 1) "services.ccci.keepRuns: must be at least 1, got ${toString s.keepRuns}")
    (when (s.maxConcurrentRuns < 1)
      "services.ccci.maxConcurrentRuns: must be at least 1, got ${toString s.maxConcurrentRuns}"
    )
    (when (s.minFreeDiskMiB < 0)
      "services.ccci.minFreeDiskMiB: must not be negative, got ${toString s.minFreeDiskMiB}"
    )
    (when (s.nightly.onCalendar == "") "services.ccci.nightly.onCalendar: must not be empty")
    (when (s.nightly.randomizedDelaySec < 0) "services.ccci.nightly.randomizedDelaySec: must not be negative")
    (when (s.nightly.timeoutSec < 1) "services.ccci.nightly.timeoutSec: must be at least 1")
    (when (builtins.match "[A-Za-z0-9.:_-]+" s.swarm.advertiseAddr == null)
      "services.ccci.swarm.advertiseAddr: expected an IP address or interface name, got ${builtins.toJSON s.swarm.advertiseAddr}"
    )
    (when (builtins.any (f: builtins.match "--volumes.*" f != null) s.dockerPrune.flags)
      "services.ccci.dockerPrune.flags: must never include --volumes: warm canonicals and their known-good snapshots live in Docker volumes"
    )
  ]
  ++ map (n: when (s.timeouts.${n} < 1) "services.ccci.timeouts.${n}: must be at least 1 second") (
    builtins.attrNames s.timeouts
  );

  enrollProblems = builtins.concatLists (
    builtins.attrValues (
      builtins.mapAttrs (
        name: e:
        let
          p = "services.ccci.enroll.${name}";
        in
        [
          (when (!isRecipe name)
            "${p}: ${builtins.toJSON name} is not a recipe name (lowercase letters, digits, inner hyphens, at most 64)"
          )
          (when (builtins.elem "keycloak" e.needs && s.keycloak == null)
            "${p}.needs: [\"keycloak\"] requires services.ccci.keycloak to be set (the warm Keycloak its per-run realms live on)"
          )
          (when (e.timeout < 1) "${p}.timeout: must be at least 1 second, got ${toString e.timeout}")
          (when (e.overlayTests != null && !isAbsolute e.overlayTests)
            "${p}.overlayTests: expected an absolute path, got ${builtins.toJSON e.overlayTests}"
          )
        ]
      ) s.enroll
    )
  );

  infraProblems = builtins.concatLists (
    builtins.attrValues (
      builtins.mapAttrs (
        name: a:
        let
          p = "services.ccci.infra.${name}";
          h = a.health;
        in
        [
          (when (!isRecipe name)
            "${p}: ${builtins.toJSON name} is not a valid app name (lowercase letters, digits, inner hyphens; it names the unit ccci-reconcile-${name})"
          )
          (when (!isRecipe a.recipe) "${p}.recipe: ${builtins.toJSON a.recipe} is not a recipe name")
          (when (!isDomain a.domain)
            "${p}.domain: expected a lowercase DNS name, got ${builtins.toJSON a.domain}"
          )
          (when (a.schedule == "") "${p}.schedule: must not be empty (null: no timer of its own)")
          (when (builtins.substring 0 1 h.path != "/")
            "${p}.health.path: must start with '/', got ${builtins.toJSON h.path}"
          )
          (when (h.status == [ ] || builtins.any (c: c < 100 || c > 599) h.status)
            "${p}.health.status: must list HTTP status codes (100-599), got ${builtins.toJSON h.status}"
          )
          (when (h.samples < 1) "${p}.health.samples: must be at least 1")
          (when (h.window < 0) "${p}.health.window: must not be negative")
          (when (h.poll <= 0) "${p}.health.poll: must be positive")
        ]
      ) s.infra
    )
  );

  keycloakProblems =
    if s.keycloak == null then
      [ ]
    else
      [
        (when (!isUrl s.keycloak.url)
          "services.ccci.keycloak.url: expected an http(s) URL, got ${builtins.toJSON s.keycloak.url}"
        )
        (secretFileProblem "services.ccci.keycloak.adminPasswordFile" s.keycloak.adminPasswordFile)
      ];

  alertProblems =
    if s.alerts == null then
      [ ]
    else
      [
        (when (!isUrl s.alerts.pushUrl)
          "services.ccci.alerts.pushUrl: expected an http(s) URL, got ${builtins.toJSON s.alerts.pushUrl}"
        )
        (
          if s.alerts.tokenFile == null then
            null
          else
            secretFileProblem "services.ccci.alerts.tokenFile" s.alerts.tokenFile
        )
        (when (s.alerts.timeout < 1) "services.ccci.alerts.timeout: must be at least 1")
      ];

  b = s.bridge.settings;
  bp = "services.ccci.bridge.settings";
  bridgeProblems =
    if !s.bridge.enable then
      [ ]
    else if b == null then
      [ "${bp}: must be set when services.ccci.bridge.enable is true" ]
    else
      [
        (when (!isUrl b.forge.url) "${bp}.forge.url: expected an http(s) URL, got ${builtins.toJSON b.forge.url}")
        (secretFileProblem "${bp}.forge.tokenFile" b.forge.tokenFile)
        (secretFileProblem "${bp}.forge.webhookSecretFile" b.forge.webhookSecretFile)
        (when (!isUrl b.drone.url) "${bp}.drone.url: expected an http(s) URL, got ${builtins.toJSON b.drone.url}")
        (secretFileProblem "${bp}.drone.tokenFile" b.drone.tokenFile)
        (when (builtins.match "[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+" b.drone.repo == null)
          "${bp}.drone.repo: expected owner/name, got ${builtins.toJSON b.drone.repo}"
        )
        (when (b.repos == { }) "${bp}.repos: name at least one forge repository (owner/name = recipe)")
        (when (b.listenPort < 0 || b.listenPort > 65535) "${bp}.listenPort: expected 0-65535")
      ]
      ++ builtins.attrValues (
        builtins.mapAttrs (
          repo: recipe:
          if builtins.match "[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+" repo == null then
            "${bp}.repos: ${builtins.toJSON repo} is not owner/name"
          else
            when (!isRecipe recipe) "${bp}.repos.\"${repo}\": ${builtins.toJSON recipe} is not a recipe name"
        ) b.repos
      );

  problems = builtins.filter (p: p != null) (
    topProblems ++ enrollProblems ++ infraProblems ++ keycloakProblems ++ alertProblems ++ bridgeProblems
  );

  checked =
    value:
    if !strict || problems == [ ] then value else throw (builtins.concatStringsSep "\n" problems);

  # --- secrets: which credential carries which file --------------------------

  # name -> the operator's file, for the units' LoadCredential.
  ccciSecrets =
    (if s.keycloak == null then { } else { keycloak-admin-password = s.keycloak.adminPasswordFile; })
    // (
      if s.alerts == null || s.alerts.tokenFile == null then
        { }
      else
        { alert-token = s.alerts.tokenFile; }
    );
  bridgeSecrets =
    if b == null then
      { }
    else
      {
        forge-token = b.forge.tokenFile;
        forge-webhook-secret = b.forge.webhookSecretFile;
        drone-token = b.drone.tokenFile;
      };
  loadCredential = secrets: builtins.attrValues (builtins.mapAttrs (n: f: "${n}:${f}") secrets);
  # unit == null: the operator's file itself (for /etc/ccci, runs by hand).
  secretPath =
    unit: name: file:
    if unit == null then file else "/run/credentials/${unit}.service/${name}";

  # --- the JSON documents -----------------------------------------------------

  # ccci/config.py's Config; `unit` picks where secret files are read from.
  configJSON = unit: {
    base_domain = s.baseDomain;
    state_dir = s.stateDir;
    recipe_source = s.recipeSource;
    inherit (s)
      server
      abra
      ingress
      timeouts
      ;
    keep_runs = s.keepRuns;
    max_concurrent_runs = s.maxConcurrentRuns;
    min_free_disk_mib = s.minFreeDiskMiB;
    recipes = builtins.mapAttrs (_: e: {
      overlay_tests = e.overlayTests;
      inherit (e) canonical needs timeout;
    }) s.enroll;
    keycloak =
      if s.keycloak == null then
        null
      else
        {
          inherit (s.keycloak) url;
          admin_user = s.keycloak.adminUser;
          admin_password_file =
            secretPath unit "keycloak-admin-password"
              s.keycloak.adminPasswordFile;
          verify_tls = s.keycloak.verifyTls;
        };
    infra = builtins.mapAttrs (_: a: {
      inherit (a) recipe domain stateful;
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
    }) s.infra;
    alerts =
      if s.alerts == null then
        null
      else
        {
          push_url = s.alerts.pushUrl;
          token_file =
            if s.alerts.tokenFile == null then null else secretPath unit "alert-token" s.alerts.tokenFile;
          inherit (s.alerts) timeout;
        };
  };

  # ccci/bridge/config.py's BridgeConfig.
  bridgeJSON = unit: {
    forge = {
      inherit (b.forge) kind url;
      token_file = secretPath unit "forge-token" b.forge.tokenFile;
      webhook_secret_file = secretPath unit "forge-webhook-secret" b.forge.webhookSecretFile;
    };
    drone = {
      inherit (b.drone) url repo branch;
      token_file = secretPath unit "drone-token" b.drone.tokenFile;
    };
    inherit (b) repos allowlist;
    listen_address = b.listenAddress;
    listen_port = b.listenPort;
    state_dir = bridgeStateDir;
    poll_interval = b.pollInterval;
    max_body_bytes = b.maxBodyBytes;
    http_timeout = b.httpTimeout;
  };
  bridgeStateDir = if b.stateDir == null then "${s.stateDir}/bridge" else b.stateDir;

  # --- units --------------------------------------------------------------------

  exe =
    job:
    executables.${job} or (throw "services.ccci: no executable for ${job} (services.ccci.packages.${job})");
  configFileFor = unit: writeJSON "${unit}.json" (checked (configJSON unit));

  reconcileUnit = name: "ccci-reconcile-${name}";
  infraNames = builtins.attrNames s.infra;
  swarmUnits = if s.swarm.enable then [ "ccci-swarm-init.service" ] else [ ];
  # Everything a job that deploys needs before it starts.
  engineOrder = [
    "network-online.target"
    "docker.service"
  ]
  ++ swarmUnits;

  # A oneshot ccci job with the ccci credentials and its own config file.
  job =
    {
      unit,
      description,
      argv,
      after ? [ ],
      timeoutSec ? null,
    }:
    {
      inherit description;
      after = engineOrder ++ after;
      wants = engineOrder;
      # A running sweep or reconcile is not restarted by nixos-rebuild switch:
      # it finishes (or tears down) under the old config.
      restartIfChanged = false;
      environment = {
        # Children (ccci-run under the sweep, a recipe's pytest) find it too.
        CCCI_CONFIG = configFileFor unit;
        # Units run as root; give them root's home, as a run by hand has
        # (abra, git and docker read it: e.g. a `docker login` applies to both).
        HOME = "/root";
      };
      # argv, not a string: the module quotes it for ExecStart.
      exec = argv ++ [
        "--config"
        (configFileFor unit)
      ];
      serviceConfig = {
        Type = "oneshot";
        LoadCredential = loadCredential ccciSecrets;
      }
      // (if timeoutSec == null then { } else { TimeoutStartSec = timeoutSec; });
    };

  services =
    {
      ccci-nightly = job {
        unit = "ccci-nightly";
        description = "ccci nightly sweep: reconcile warm infra, then cold-run every enrolled recipe";
        argv = [ (exe "nightly") ];
        after = map (n: "${reconcileUnit n}.service") infraNames;
        timeoutSec = s.nightly.timeoutSec;
      };
    }
    // builtins.listToAttrs (
      map (name: {
        name = reconcileUnit name;
        value = job {
          unit = reconcileUnit name;
          description = "ccci: reconcile warm infra app ${name} (${s.infra.${name}.recipe}) to its latest release";
          argv = [
            (exe "reconcile")
            name
          ];
        };
      }) infraNames
    )
    // (
      if !s.swarm.enable then
        { }
      else
        {
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
                ${docker} swarm init --advertise-addr ${s.swarm.advertiseAddr}
              fi
              ${docker} network inspect proxy >/dev/null 2>&1 ||
                ${docker} network create --driver overlay --attachable proxy
            '';
          };
        }
    )
    // (
      if !s.bridge.enable || b == null then
        { }
      else
        {
          ccci-bridge = {
            description = "ccci bridge: !testme PR comments to CI builds (${s.bridge.mode})";
            after = [ "network-online.target" ];
            wants = [ "network-online.target" ];
            wantedBy = [ "multi-user.target" ];
            exec = [
              (exe "bridge")
              s.bridge.mode
              "--config"
              (writeJSON "ccci-bridge.json" (checked (bridgeJSON "ccci-bridge")))
            ];
            serviceConfig = {
              Type = "simple";
              LoadCredential = loadCredential bridgeSecrets;
              Restart = "on-failure";
              RestartSec = 10;
            };
          };
        }
    );

  timer = description: timerConfig: {
    inherit description;
    wantedBy = [ "timers.target" ];
    timerConfig = timerConfig // {
      Persistent = true;
    };
  };

  timers =
    (
      if s.nightly.enable then
        {
          ccci-nightly = timer "ccci nightly sweep" {
            OnCalendar = s.nightly.onCalendar;
            RandomizedDelaySec = s.nightly.randomizedDelaySec;
          };
        }
      else
        { }
    )
    // builtins.listToAttrs (
      builtins.concatMap (
        name:
        if s.infra.${name}.schedule == null then
          [ ]
        else
          [
            {
              name = reconcileUnit name;
              value = timer "ccci: reconcile ${name}" { OnCalendar = s.infra.${name}.schedule; };
            }
          ]
      ) infraNames
    );
in
{
  settings = s;
  inherit problems;
  # /etc/ccci/config.json: for runs started by hand (ccci-run, nix run .#quick).
  config = checked (configJSON null);
  # What a unit's own config file holds (secret paths under its credentials).
  configFor = unit: checked (configJSON unit);
  bridge = if s.bridge.enable && b != null then checked (bridgeJSON null) else null;
  bridgeFor = unit: checked (bridgeJSON unit);
  bridgeStateDir = if b == null then null else bridgeStateDir;
  units = { inherit services timers; };
  autoPrune = s.dockerPrune;
}
