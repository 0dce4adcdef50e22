# The ccci Python distribution (pyproject.toml at the repo root): the library
# and its console scripts, without any tools on PATH. Nothing runs this
# directly: each executable has its own thin package (../jobs.nix) that runs it
# from a Python environment with that executable's runtime tools pinned.
{
  lib,
  python3Packages,
}:

let
  root = ../..;
  pyproject = (lib.importTOML (root + "/pyproject.toml")).project;
  # Only what setuptools and the unit tests need: a change to docs/, the
  # integration tests or Nix files must not rebuild the package.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/pyproject.toml")
      # The status page's Jinja templates are package data (pyproject).
      (lib.fileset.fileFilter (file: file.hasExt "py" || file.hasExt "html") (root + "/ccci"))
      (root + "/tests/__init__.py")
      (root + "/tests/conftest.py")
      (root + "/tests/fixtures")
      (root + "/tests/unit")
      # test_abra_argv.py loads the stand-in abra's table renderer.
      (root + "/tests/bed/abra-standin")
    ];
  };
in
python3Packages.buildPythonPackage {
  pname = pyproject.name;
  # One source of truth for the version.
  inherit (pyproject) version;
  pyproject = true;
  inherit src;

  build-system = [ python3Packages.setuptools ];

  # Spelled out, not `with python3Packages;`: a `with` loses to lexical
  # bindings, so `docker` there could silently be the engine package.
  # pyproject's floors are at or below nixos-25.11's versions (tested with
  # exactly those floors by tests/oldest-deps).
  dependencies = [
    python3Packages.attrs
    python3Packages.cattrs
    python3Packages.docker
    python3Packages.jinja2
    python3Packages.plumbum
    python3Packages.pytest
    python3Packages.python-keycloak
    python3Packages.requests
  ];

  # The unit tests (pure: hypothesis, no Docker, no network) run in the
  # build; the integration tests need a Docker swarm and abra on a real host
  # and run in CI (tests/run), never in the sandbox.
  nativeCheckInputs = [
    python3Packages.pytestCheckHook
    python3Packages.hypothesis
    python3Packages.pyyaml
  ];
  enabledTestPaths = [ "tests/unit" ];

  # Every console script's module imports, with its deps: derived from
  # pyproject so a new executable is covered without touching this file.
  pythonImportsCheck = map (entry: builtins.head (builtins.split ":" entry)) (
    builtins.attrValues pyproject.scripts
  );

  # license and homepage come from pyproject.toml when it declares them
  # (`license = "<SPDX id>"`, `[project.urls] Homepage`); it does not yet.
  meta = {
    inherit (pyproject) description;
    platforms = lib.platforms.linux;
  }
  // lib.optionalAttrs (pyproject ? license) {
    license = lib.getLicenseFromSpdxId pyproject.license;
  }
  // lib.optionalAttrs (pyproject ? urls.Homepage) {
    homepage = pyproject.urls.Homepage;
  };
}
