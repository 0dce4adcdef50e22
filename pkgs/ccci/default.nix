# The ccci Python distribution (pyproject.toml at the repo root) with its
# runtime tools pinned on the PATH of every console script.
#
# `abra` is an argument on purpose: whether a given nixpkgs revision carries
# it (and which version) varies, so a flake user can swap it without forking:
#   ccci.packages.${system}.ccci.override { abra = myAbra; }
{
  lib,
  python3Packages,
  abra,
  docker,
  git,
  gnutar,
  util-linux,
  coreutils,
}:

let
  root = ../..;
  # Only what setuptools needs: a change to tests/, docs/ or Nix files must
  # not rebuild the package.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/pyproject.toml")
      (lib.fileset.fileFilter (file: file.hasExt "py") (root + "/ccci"))
    ];
  };
  # Tools the executables call through their one process seam (abra needs a
  # terminal; ccci gives it a pty itself, util-linux's `script` is the
  # fallback an operator can use to reproduce a call by hand).
  runtimeTools = [
    abra
    docker
    git
    gnutar
    util-linux
    coreutils
  ];
in
python3Packages.buildPythonApplication {
  pname = "ccci";
  # One source of truth for the version.
  version = (lib.importTOML (root + "/pyproject.toml")).project.version;
  pyproject = true;
  inherit src;

  build-system = [ python3Packages.setuptools ];

  # Spelled out, not `with python3Packages;`: a `with` loses to lexical
  # bindings, so `docker` there would silently be the engine argument above.
  dependencies = [
    python3Packages.attrs
    python3Packages.cattrs
    python3Packages.docker
    python3Packages.plumbum
    python3Packages.pytest
  ];

  # Prefix, not set: the pinned tools win over whatever the host has, while a
  # unit can still add tools of its own (e.g. ssh for a remote server).
  makeWrapperArgs = [
    "--prefix"
    "PATH"
    ":"
    (lib.makeBinPath runtimeTools)
  ];

  # The integration tests need a Docker swarm and abra on a real host; they
  # cannot run in the sandbox. Unit tests run in CI (`pytest tests/unit`).
  doCheck = false;
  # Still proves the console script's module and its deps import.
  pythonImportsCheck = [ "ccci.entry.run" ];

  # The NixOS module writes this abra's path into /etc/ccci/config.json.
  passthru = { inherit abra; };

  meta = {
    description = "CI for Co-op Cloud recipes: deploy with abra on a real swarm, test, tear down";
    mainProgram = "ccci-run";
    platforms = lib.platforms.linux;
  };
}
