"""flake.nix evaluated with `--override-input nixpkgs` pointing at the stub
(stub/nixpkgs/flake.nix): output names for both systems, the apps' programs,
one package per console script with its own pinned tools, an overridable
abra, the version and dependencies from pyproject.toml, and the lock pin."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from tests.nix.nixtool import FLAKES, REPO, run_nix

SYSTEMS = ["x86_64-linux", "aarch64-linux"]
JOBS = ["bridge", "nightly", "quick", "reconcile", "run", "snapshot"]
FULL_TOOLS = ["abra", "docker", "git", "gnutar", "util-linux", "coreutils"]
STORE = "/nix/store/00000000000000000000000000000000-"


def flake_eval(env: dict[str, str], flake: tuple[str, str], attr: str, apply: str | None = None) -> object:
    ref, stub = flake
    argv = ["nix", *FLAKES, "eval", "--json", "--no-write-lock-file"]
    argv += ["--override-input", "nixpkgs", stub, f"{ref}#{attr}"]
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
    assert flake_eval(nix_env, flake, f"apps.{system}", names) == JOBS
    assert flake_eval(nix_env, flake, f"devShells.{system}", names) == ["default"]
    checks = sorted(["ccci", *(f"ccci-{job}" for job in JOBS), "nix-logic", "module-config", "vm-nightly"])
    assert flake_eval(nix_env, flake, f"checks.{system}", names) == checks
    assert flake_eval(nix_env, flake, "formatter", names) == sorted(SYSTEMS)
    assert flake_eval(nix_env, flake, "nixosModules", names) == ["default"]


@pytest.mark.parametrize("job", JOBS)
def test_each_app_runs_its_executable(nix_env: dict[str, str], flake: tuple[str, str], job: str) -> None:
    # `nix run .#quick -- RECIPE REF` runs ccci-quick with RECIPE REF.
    app = flake_eval(nix_env, flake, f"apps.x86_64-linux.{job}")
    assert app == {"type": "app", "program": f"{STORE}ccci-{job}/bin/ccci-{job}"}


def test_one_package_per_console_script(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    scripts = pyproject()["scripts"]
    wanted = {f"ccci-{job}" for job in JOBS}
    # ccci-nightly is being added to pyproject by another engineer; every
    # script there must have a package here, and every package a script.
    assert set(scripts) <= wanted
    assert wanted - set(scripts) <= {"ccci-nightly"}
    for name in sorted(wanted):
        wrapper = flake_eval(nix_env, flake, f"packages.x86_64-linux.{name}",
                             "p: { inherit (p) name module script; main = p.meta.mainProgram; }")
        assert isinstance(wrapper, dict)
        assert wrapper["name"] == wrapper["main"] == name
        if name in scripts:
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
    # The bridge only speaks HTTP; everything else drives abra, docker, git, tar.
    assert tools == (["coreutils"] if job == "bridge" else FULL_TOOLS)


def test_abra_is_overridable(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    pinned = "/nix/store/11111111111111111111111111111111-abra-pinned"
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
        "p: { inherit (p) pname version pyproject doCheck pythonImportsCheck; "
        "deps = map (d: d.name) p.dependencies; }",
    )
    assert isinstance(package, dict)
    assert package["pname"] == project["name"]
    assert package["version"] == project["version"]
    assert package["pyproject"] is True
    # The integration tests need a swarm; they never run in the Nix build.
    assert package["doCheck"] is False
    assert sorted(package["pythonImportsCheck"]) == sorted(s.split(":")[0] for s in project["scripts"].values())
    wanted = sorted(re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in project["dependencies"])
    # python3-docker, not the engine: catches `with python3Packages;` shadowing.
    assert sorted(package["deps"]) == [f"python3-{name}" for name in wanted]


def test_the_module_is_a_module_function(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    args = flake_eval(nix_env, flake, "nixosModules.default", "m: builtins.functionArgs (import m)")
    assert args == {"config": False, "lib": False, "pkgs": False}


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


def test_the_logic_check_evaluates_with_no_failed_cases(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    # checks.<system>.nix-logic asserts tests/nix/cases.nix at evaluation time.
    check = flake_eval(nix_env, flake, "checks.x86_64-linux.nix-logic", "c: { inherit (c) name failed passed; }")
    assert isinstance(check, dict)
    assert check["name"] == "ccci-nix-logic"
    assert check["failed"] == "[]"
    assert len(json.loads(check["passed"])) >= 10
