# services.ccci: host settings for ccci, rendered into ONE JSON file,
# /etc/ccci/config.json, that every ccci executable loads once at start-up
# (ccci/config.py, unknown keys rejected). The settings -> JSON logic lives in
# ./lib/config.nix (builtins only, evaluated offline by tests/nix); this file
# only declares options and wires NixOS.
#
# Minimal first version: no units or timers yet (nightly sweep, warm infra and
# enrollment come later). Secrets never go in this JSON; they will arrive as
# files via systemd LoadCredential.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.ccci;
  renderConfig = import ./lib/config.nix;
  settingsFormat = pkgs.formats.json { };
  configFile = settingsFormat.generate "ccci-config.json" (renderConfig {
    inherit (cfg)
      baseDomain
      stateDir
      recipeSource
      server
      ingress
      ;
    # The abra on the package's own PATH, so the config and the wrapper agree.
    abra = "${cfg.package.abra}/bin/abra";
  });
in
{
  options.services.ccci = {
    enable = lib.mkEnableOption "ccci, CI for Co-op Cloud recipes";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ../pkgs/ccci { };
      defaultText = lib.literalExpression "pkgs.callPackage <ccci>/pkgs/ccci { }";
      example = lib.literalExpression "ccci.packages.\${system}.ccci.override { abra = myAbra; }";
      description = ''
        The ccci package. Its executables carry their runtime tools (abra,
        docker, git, tar, util-linux, coreutils) on their PATH; the abra it
        was built with (`passthru.abra`) is also written to the config file.
      '';
    };

    baseDomain = lib.mkOption {
      type = lib.types.str;
      example = "ci.example.org";
      description = ''
        Domain under which test apps are deployed: a run's app is
        `<recipe[:4]>-<6hex>.<baseDomain>`, a canonical app
        `warm-<recipe>.<baseDomain>`. Needs a wildcard DNS record pointing at
        this host. Lowercase, at least two labels.
      '';
    };

    stateDir = lib.mkOption {
      type = lib.types.str;
      default = "/var/lib/ccci";
      description = ''
        Absolute path of the one directory holding ccci's state: canonicals
        and their snapshots, infra last_good, alerts, run results, locks.
        Created by systemd-tmpfiles.
      '';
    };

    recipeSource = lib.mkOption {
      type = lib.types.str;
      default = "https://git.coopcloud.tech/coop-cloud/{recipe}.git";
      example = "https://git.example.org/mirror/{recipe}.git";
      description = ''
        Git URL template a recipe is cloned from; `{recipe}` is replaced by
        the recipe name.
      '';
    };

    server = lib.mkOption {
      type = lib.types.str;
      default = "default";
      description = ''
        The abra server name apps are deployed to. `default` is abra's name
        for the local Docker daemon.
      '';
    };

    ingress = lib.mkOption {
      type = lib.types.enum [
        "domain"
        "host-port"
      ];
      default = "domain";
      description = ''
        How ccci reaches an app over HTTP. `domain`: `https://<app domain>/`
        through the host's proxy (traefik), the right choice for a real host.
        `host-port`: the port the swarm published, with the domain as Host
        header; only for a test bed without a proxy or DNS.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.package ? abra;
        message = "services.ccci.package must expose the abra it was built with as `passthru.abra` (build it from pkgs/ccci, or override its `abra` argument).";
      }
    ];

    environment.etc."ccci/config.json".source = configFile;
    environment.systemPackages = [ cfg.package ];

    systemd.tmpfiles.settings."10-ccci".${cfg.stateDir}.d = {
      mode = "0750";
      user = "root";
      group = "root";
    };

    # abra deploys Docker Swarm stacks. NixOS manages the daemon but not swarm
    # membership, which is runtime state: run `docker swarm init` once on the
    # host (a later version may do it in a oneshot unit). The ingress proxy
    # (traefik) is itself a warm app deployed through abra, not configured here.
    virtualisation.docker.enable = true;
  };
}
