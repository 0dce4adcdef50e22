# NixOS VM test (flake check `vm-nightly`): boots a host with services.ccci,
# Docker in swarm mode, and two enrolled recipes, then starts the nightly unit
# by hand and checks what it did. Needs real nixpkgs and KVM, so it cannot run
# where there is no network; it is written for `nix flake check` /
# `nix build .#checks.x86_64-linux.vm-nightly` on a networked machine.
#
# The VM has no network either, so everything comes from the store: the
# fixture image (busybox, as the test bed's ccci-fixture/busybox:1.35.0) is
# loaded with `docker load`, and the fixture recipe fx-web is built as a local
# git repository by the test bed's own builder (tests/bed/recipes/build).
# `fx-gone` is enrolled but has no repository: its cold run is red.
#
# What it proves about the Nix side: the units exist with the rendered config,
# swarm init ran, the nightly unit refuses while the nightly lock is held,
# and a real sweep exits non-zero (red recipe) with the green one promoted,
# the red one not, a summary and an alert written.
{
  pkgs,
  module,
}:
let
  image = pkgs.dockerTools.buildImage {
    name = "ccci-fixture/busybox";
    tag = "1.35.0";
    copyToRoot = pkgs.buildEnv {
      name = "fixture-root";
      paths = [ pkgs.pkgsStatic.busybox ];
      pathsToLink = [ "/bin" ];
    };
    extraCommands = "mkdir -p data tmp && chmod 1777 tmp";
  };
  fixtures = ../bed/recipes;
in
pkgs.testers.runNixOSTest {
  name = "ccci-nightly";

  nodes.machine = {
    imports = [ module ];
    virtualisation = {
      memorySize = 3072;
      diskSize = 8192;
      cores = 2;
    };
    environment.systemPackages = [
      pkgs.git
      pkgs.python3
      pkgs.jq
    ];
    services.ccci = {
      enable = true;
      baseDomain = "ci.test";
      # No proxy and no DNS in the VM: reach apps on the ports they publish.
      ingress = "host-port";
      recipeSource = "/var/lib/ccci-fixtures/{recipe}";
      minFreeDiskMiB = 256;
      enroll = {
        fx-web = {
          canonical = true;
          timeout = 1200;
        };
        fx-gone.timeout = 300;
      };
      # Started by hand below, never by the clock during the test.
      nightly.enable = false;
    };
  };

  testScript = ''
    import json

    machine.wait_for_unit("docker.service")
    machine.wait_for_unit("ccci-swarm-init.service")
    machine.succeed("docker info --format '{{.Swarm.LocalNodeState}}' | grep -qx active")
    machine.succeed("docker network inspect proxy")

    # The units the module rendered, each with its own config file.
    unit = machine.succeed("systemctl cat ccci-nightly.service")
    assert "--config" in unit, unit
    machine.succeed("jq -e '.recipes | has(\"fx-web\") and has(\"fx-gone\")' /etc/ccci/config.json")
    machine.fail("systemctl cat ccci-nightly.timer")

    # Fixtures from the store: the image and fx-web's git repository.
    machine.succeed("docker load < ${image}")
    machine.succeed("mkdir -p /var/lib/ccci-fixtures")
    machine.succeed("python3 ${fixtures}/build /var/lib/ccci-fixtures fx-web")

    with subtest("a second sweep refuses while the nightly lock is held"):
        machine.succeed("mkdir -p /var/lib/ccci/locks")
        machine.succeed(
            "systemd-run --unit=lock-holder flock /var/lib/ccci/locks/nightly.lock sleep 600"
        )
        machine.wait_until_succeeds("systemctl is-active lock-holder.service")
        machine.fail("systemctl start ccci-nightly.service")
        machine.succeed("journalctl -u ccci-nightly.service | grep -i 'nightly'")
        machine.succeed("systemctl stop lock-holder.service")
        machine.fail("ls /var/lib/ccci/canonical/fx-web/canonical.json")

    with subtest("the sweep: fx-web green and promoted, fx-gone red, exit non-zero"):
        # A oneshot: `systemctl start` returns when the sweep has finished.
        machine.fail("systemctl start ccci-nightly.service")
        status = machine.succeed(
            "systemctl show -p Result -p ExecMainStatus ccci-nightly.service"
        )
        assert "Result=exit-code" in status and "ExecMainStatus=1" in status, status
        summary = json.loads(machine.succeed("cat /var/lib/ccci/nightly/*/summary.json"))
        outcomes = {r["recipe"]: r["status"] for r in summary["recipes"]}
        assert summary["status"] == "failed", summary
        assert outcomes == {"fx-gone": outcomes["fx-gone"], "fx-web": "passed"}, outcomes
        assert outcomes["fx-gone"] != "passed", outcomes
        record = json.loads(machine.succeed("cat /var/lib/ccci/canonical/fx-web/canonical.json"))
        assert record["recipe"] == "fx-web", record
        machine.fail("ls /var/lib/ccci/canonical/fx-gone/canonical.json")
        machine.succeed("ls /var/lib/ccci/alerts/*.json")
        # Cold teardown: no per-run stack is left on the swarm.
        machine.succeed("test -z \"$(docker stack ls --format '{{.Name}}' | grep -v '^warm' || true)\"")
  '';
}
