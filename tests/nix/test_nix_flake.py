"""flake.nix evaluated with `--override-input nixpkgs` pointing at a fake
nixpkgs whose lib is nixpkgs' real one (harness/fake-nixpkgs.nix): output
names for both systems, the apps' programs, one package per console script
with its own pinned tools, an overridable abra, a nixpkgs without abra, the
version, dependencies and checks from pyproject.toml, the module defaulting
to the flake's own packages, and the lock pin."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib

import pytest

from pathlib import Path

from tests.nix.nixtool import FLAKES, HARNESS, REPO, run_nix

SYSTEMS = ["x86_64-linux", "aarch64-linux"]
# The oracle for the flake's one job list (pkgs/jobs.nix): the Python side's
# own list of executables, pyproject's console scripts.
JOBS = sorted(name.removeprefix("ccci-") for name in
              tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])
FULL_TOOLS = ["abra", "docker-client", "git", "gnutar", "util-linux", "coreutils"]
# Written by hand: the jobs that never deploy (HTTP, or files only) get coreutils alone.
NO_DEPLOY = {"bridge", "status"}
# Import names of distributions whose import name differs (pyproject -> import).
IMPORT_NAMES = {"python-keycloak": "keycloak", "pyyaml": "yaml"}
# The fake flake input's packages (the host's fake pkgs use 0000…).
STORE = "/nix/store/11111111111111111111111111111111-"


def flake_eval(env: dict[str, str], flake: tuple[str, str], attr: str, apply: str | None = None,
               impure: bool = False) -> object:
    ref, fake = flake
    argv = ["nix", *FLAKES, "eval", "--json", "--no-write-lock-file", *(["--impure"] if impure else [])]
    argv += ["--override-input", "nixpkgs", fake, f"{ref}#{attr}"]
    if apply is not None:
        argv += ["--apply", apply]
    return json.loads(run_nix(env, *argv).stdout)


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_flake_outputs_per_system(nix_env: dict[str, str], flake: tuple[str, str], system: str) -> None:
    names = "builtins.attrNames"
    packages = sorted(["ccci", "default", *(f"ccci-{job}" for job in JOBS)])
    assert flake_eval(nix_env, flake, f"packages.{system}", names) == packages
    # One app per job, and the contract check an operator runs after every abra upgrade.
    assert flake_eval(nix_env, flake, f"apps.{system}", names) == sorted([*JOBS, "abra-contract"])
    assert flake_eval(nix_env, flake, f"devShells.{system}", names) == ["default"]
    checks = sorted(["ccci", *(f"ccci-{job}" for job in JOBS), "module-config", "vm-nightly"])
    assert flake_eval(nix_env, flake, f"checks.{system}", names) == checks
    assert flake_eval(nix_env, flake, "formatter", names) == sorted(SYSTEMS)
    assert flake_eval(nix_env, flake, "nixosModules", names) == ["default"]


@pytest.mark.parametrize("job", JOBS)
def test_each_app_runs_its_executable(nix_env: dict[str, str], flake: tuple[str, str], job: str) -> None:
    # `nix run .#quick -- RECIPE REF` runs ccci-quick with RECIPE REF.
    app = flake_eval(nix_env, flake, f"apps.x86_64-linux.{job}")
    assert app == {"type": "app", "program": f"{STORE}ccci-{job}/bin/ccci-{job}",
                   "meta": {"description": pyproject()["description"]}}


def test_one_package_per_console_script(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    scripts = pyproject()["scripts"]
    assert "ccci-status" in scripts and "ccci-nightly" in scripts
    # Every package runs the module its console script names (the set of
    # names is test_flake_outputs_per_system's).
    for name in sorted(scripts):
        wrapper = flake_eval(nix_env, flake, f"packages.x86_64-linux.{name}",
                             "p: { inherit (p) name module script; main = p.meta.mainProgram; }")
        assert isinstance(wrapper, dict)
        assert wrapper["name"] == wrapper["main"] == name
        assert scripts[name] == f"{wrapper['module']}:main"
        # python -m <module> from an environment holding ccci and its deps,
        # so ccci's own children (sys.executable -m ...) have them too.
        assert f"makeWrapper {STORE}python3-env/bin/python3 $out/bin/{name}" in wrapper["script"]
        assert f'--add-flags "-m {wrapper["module"]}"' in wrapper["script"]
        assert "--set PYTHONSAFEPATH 1" in wrapper["script"]


@pytest.mark.parametrize("job", JOBS)
def test_each_executable_pins_its_own_tools(nix_env: dict[str, str], flake: tuple[str, str], job: str) -> None:
    script = flake_eval(nix_env, flake, f"packages.x86_64-linux.ccci-{job}.script")
    assert isinstance(script, str)
    path = re.search(r"--prefix PATH : (\S+)", script)
    assert path, script
    tools = [entry.removeprefix(STORE).removesuffix("/bin") for entry in path[1].split(":")]
    # The bridge only speaks HTTP and the status page only reads and writes
    # files; everything else drives abra, docker, git, tar.
    assert tools == (["coreutils"] if job in NO_DEPLOY else FULL_TOOLS)
    # The module's abra check knows an abra job by the abra it carries.
    has_abra = flake_eval(nix_env, flake, f"packages.x86_64-linux.ccci-{job}", "p: p ? abra")
    assert has_abra is (job not in NO_DEPLOY)


def test_abra_is_overridable(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    pinned = "/nix/store/22222222222222222222222222222222-abra-pinned"
    swapped = flake_eval(
        nix_env, flake, "packages.x86_64-linux.ccci-quick",
        f'p: (p.override {{ abra = {{ outPath = "{pinned}"; name = "abra-pinned"; }}; }}).script',
    )
    assert isinstance(swapped, str)
    assert f"--prefix PATH : {pinned}/bin:" in swapped
    assert flake_eval(nix_env, flake, "packages.x86_64-linux.ccci-quick.abra.name") == "abra"


def test_the_python_package_follows_pyproject(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    project = pyproject()
    package = flake_eval(
        nix_env, flake, "packages.x86_64-linux.ccci",
        "p: { inherit (p) pname version pyproject pythonImportsCheck enabledTestPaths meta; "
        "deps = map (d: d.name) p.dependencies; checkDeps = map (d: d.name) p.nativeCheckInputs; }",
    )
    assert isinstance(package, dict)
    assert package["pname"] == project["name"]
    assert package["version"] == project["version"]
    assert package["pyproject"] is True
    assert package["meta"]["description"] == project["description"]
    assert sorted(package["pythonImportsCheck"]) == sorted(s.split(":")[0] for s in project["scripts"].values())
    wanted = sorted(re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in project["dependencies"])
    # python3-docker, not the engine: catches `with python3Packages;` shadowing.
    assert sorted(package["deps"]) == [f"python3-{name}" for name in wanted]
    # The unit tests run in the build, with what they import of the test
    # extra; never the integration tests (they need a swarm, and the browser
    # test's playwright).
    assert package["enabledTestPaths"] == ["tests/unit"]
    extra = [re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in project["optional-dependencies"]["test"]]
    shipped = ["tests/unit", "tests/fixtures", "tests/conftest.py", "tests/bed/abra-standin"]
    imported = imports(*(REPO / path for path in shipped))
    needed = sorted(n for n in extra if IMPORT_NAMES.get(n, n) in imported)
    assert "hypothesis" in needed and "playwright" in extra and "playwright" not in needed
    assert sorted(package["checkDeps"]) == sorted(["python3-pytestCheckHook", *(f"python3-{n}" for n in needed)])


def imports(*paths: Path) -> set[str]:
    """The top-level names of every module the Python files under `paths` import."""
    files = [f for path in paths for f in ([path] if path.is_file() else path.rglob("*.py"))]
    imported: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    return imported


def test_every_import_is_declared() -> None:
    # `requests` was imported but not declared once: every third-party module
    # ccci imports is a dependency in pyproject (by its import name).
    declared = {IMPORT_NAMES.get(n, n) for n in
                (re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in pyproject()["dependencies"])}
    imported = imports(REPO / "ccci")
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "ccci"}
    assert third_party <= declared, third_party - declared


def test_without_abra_in_nixpkgs_only_building_needs_it(nix_env: dict[str, str], flake: tuple[str, str],
                                                       nixlib: Path) -> None:
    # A nixpkgs without abra: the set evaluates; the bridge (no abra) is
    # whole; an abra job says what to pass when its tools are needed.
    expr = (f"let lib = import {nixlib}; pkgs = import {HARNESS / 'fake-pkgs.nix'} {{ inherit lib; withAbra = false; }}; "
            f"set = import {REPO / 'pkgs'} {{ inherit pkgs; }}; in "
            "{ names = builtins.attrNames set; bridge = set.ccci-bridge.script; "
            "run = (builtins.tryEval set.ccci-run.script).success; }")
    out = json.loads(run_nix(nix_env, "nix-instantiate", "--eval", "--strict", "--json", "-E", expr).stdout)
    assert out["names"] == sorted(["ccci", *(f"ccci-{job}" for job in JOBS)])
    assert "--prefix PATH : /nix/store/00000000000000000000000000000000-coreutils/bin" in out["bridge"]
    assert out["run"] is False
    failed = run_nix(nix_env, "nix-instantiate", "--eval", "--strict", "-E", f"({expr[:-1]} x = set.ccci-run.script; }}).x",
                     check=False)
    assert "ccci: this nixpkgs has no `abra`" in failed.stderr


def test_the_flakes_module_defaults_to_the_flakes_own_packages(
    nix_env: dict[str, str], flake: tuple[str, str], nixlib: Path
) -> None:
    # The host's pkgs (fake hash 0000…) against the flake's pin (1111…):
    # the pin decides, with the host's abra; an operator's package still wins.
    host = '{ services.ccci = { enable = true; baseDomain = "ci.example.org"; statusPage.enable = true; }; }'
    apply = (f"m: let e = h: import {HARNESS / 'eval.nix'} {{ lib = {nixlib}; module = m; host = h; }}; in {{ "
             f"default = (e {host}).result.services.ccci-nightly.serviceConfig.ExecStart; "
             f"status = (e {host}).result.services.ccci-status.serviceConfig.ExecStart; "
             f"abra = (e {host}).result.config.abra; "
             f"mine = (e {{ imports = [ {host} ]; services.ccci.packages.nightly = "
             '{ type = "derivation"; name = "mine"; outPath = "/nix/store/3-mine"; meta.mainProgram = "mine"; }; })'
             ".result.services.ccci-nightly.serviceConfig.ExecStart; }")
    out = flake_eval(nix_env, flake, "nixosModules.default", apply, impure=True)
    assert isinstance(out, dict)
    assert out["default"].startswith(f"{STORE}ccci-nightly/bin/ccci-nightly --config ")
    # A job without abra is the flake's package as it is.
    assert out["status"].startswith(f"{STORE}ccci-status/bin/ccci-status --config ")
    assert out["abra"] == "/nix/store/00000000000000000000000000000000-abra/bin/abra"
    assert out["mine"].startswith("/nix/store/3-mine/bin/mine --config ")


def test_flake_lock_is_the_shared_pin() -> None:
    lock = json.loads((REPO / "flake.lock").read_text())
    assert lock["version"] == 7
    assert lock["root"] == "root"
    assert lock["nodes"]["root"]["inputs"] == {"nixpkgs": "nixpkgs"}
    pin = REPO.parent / "shared" / "nix" / "nixpkgs-pin.json"
    node = lock["nodes"]["nixpkgs"]
    if pin.is_file():
        assert node == json.loads(pin.read_text())["nixpkgs"]
    assert node["original"] == {"owner": "NixOS", "ref": "nixos-25.11", "repo": "nixpkgs", "type": "github"}
    assert re.fullmatch(r"[0-9a-f]{40}", node["locked"]["rev"])
