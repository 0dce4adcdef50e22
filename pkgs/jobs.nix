# The one list of ccci's executables: job -> the runtime tools pinned on its
# PATH (nixpkgs attribute names). Every job `<job>` becomes
# - the package `ccci-<job>`, `python -m ccci.entry.<job>` with exactly these
#   tools first on PATH (./default.nix);
# - the app `nix run .#<job>` (flake.nix);
# - the option services.ccci.packages.<job> (modules/ccci.nix).
# pyproject.toml's [project.scripts] names the same executables for pip;
# tests/nix/test_nix_flake.py holds the two lists to each other.
let
  # Jobs that deploy: abra (under a pty ccci opens itself; util-linux's
  # `script` to reproduce a call by hand), the docker client (not the
  # engine), git (recipe checkouts and tags), gnutar (volume snapshots).
  # `abra` can be swapped: ccci.packages.${system}.ccci-run.override { abra = myAbra; }
  deploys = [
    "abra"
    "docker-client"
    "git"
    "gnutar"
    "util-linux"
    "coreutils"
  ];
in
{
  # A cold run: ccci-run RECIPE [--ref REF].
  run = deploys;
  # A --quick run on the warm canonical: ccci-quick RECIPE REF.
  quick = deploys;
  # A canonical's known-good snapshot by hand: ccci-snapshot take|restore|verify|show RECIPE.
  snapshot = deploys;
  # One warm infra app to its latest release: ccci-reconcile APP.
  reconcile = deploys;
  # The nightly sweep (warm infra first, then a serial cold run of every
  # enrolled recipe). Its children, ccci-reconcile and ccci-run, run through
  # its own interpreter, so its PATH carries what they need.
  nightly = deploys;
  # `!testme` PR comments to CI builds, results back to the PR: it only
  # speaks HTTP (forge and Drone), so no abra and no docker.
  bridge = [ "coreutils" ];
  # The operator's status page (ccci-status [--out DIR]): reads the state
  # directory, writes the site.
  status = [ "coreutils" ];
}
