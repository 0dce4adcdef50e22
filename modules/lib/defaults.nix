# Defaults of services.ccci, in one place: the module's option defaults and
# the builtins-only logic (./default.nix) both read them, so an offline
# evaluation fills in exactly what a NixOS evaluation would.
#
# Values that ccci/config.py also defaults are the same as there; keep them in
# step (the contract test in tests/nix loads what the logic renders).
{
  stateDir = "/var/lib/ccci";
  recipeSource = "https://git.coopcloud.tech/coop-cloud/{recipe}.git";
  server = "default";
  ingress = "domain";
  keepRuns = 50;
  maxConcurrentRuns = 2;
  minFreeDiskMiB = 2048;

  timeouts = {
    converge = 300;
    undeploy = 120;
    http = 60;
    abra = 900;
    tests = 900;
    lock = 3600;
  };

  enroll = {
    canonical = false;
    overlayTests = null;
    needs = [ ];
    timeout = 3600;
  };

  infra = {
    stateful = false;
    # systemd.time(7): once a day, at midnight, caught up after downtime.
    schedule = "daily";
    health = {
      path = "/";
      status = [ 200 ];
      contains = null;
      window = 120;
      samples = 3;
      poll = 1.0;
    };
  };

  keycloak = {
    adminUser = "admin";
    verifyTls = true;
  };

  alerts = {
    tokenFile = null;
    timeout = 10;
  };

  nightly = {
    enable = true;
    onCalendar = "*-*-* 03:00:00";
    randomizedDelaySec = 600;
    # A ceiling on the whole sweep; each recipe is bounded by its own timeout.
    timeoutSec = 6 * 3600;
  };

  swarm = {
    enable = true;
    advertiseAddr = "127.0.0.1";
  };

  dockerPrune = {
    enable = true;
    dates = "weekly";
    # Images and build cache older than a day; never volumes (see default.nix).
    flags = [
      "--all"
      "--filter"
      "until=24h"
    ];
  };

  bridge = {
    enable = false;
    mode = "serve";
    settings = {
      drone.branch = "main";
      listenAddress = "127.0.0.1";
      listenPort = 8787;
      allowlist = null;
      # null: "<stateDir>/bridge"
      stateDir = null;
      pollInterval = 60.0;
      maxBodyBytes = 1048576;
      httpTimeout = 10.0;
    };
  };
}
