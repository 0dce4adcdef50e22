"""Offline checks of the Nix side: parsing, the builtins-only config logic, and
the flake's wiring against a stub nixpkgs.

What this proves: every .nix file parses; modules/lib/config.nix turns settings
into exactly the JSON ccci/config.py expects and refuses what it would refuse;
modules/ccci.nix declares typed, described options and feeds its settings to
that function; flake.nix wires its outputs for both systems, the app points at
`ccci-run`, and pkgs/ccci takes `abra` as an overridable argument, reads its
version from pyproject.toml and depends on python packages named like
pyproject's dependencies.

What it cannot prove (no nixpkgs can be downloaded here): that the package
builds, that lib.fileset selects the right files, that the module type-checks
and merges in a real NixOS evaluation, or `nix flake check`. Those need a
machine with network; see docs/nix.md.

Every nix call runs against a throwaway chroot store and cache under tmp, so
the host's /nix/store is never written.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

if shutil.which("nix-instantiate") is None or shutil.which("nix") is None:
    pytest.skip(
        "nix is not installed (Debian: apt-get install nix-bin); "
        "the offline Nix checks need nix-instantiate and nix",
        allow_module_level=True,
    )

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
STUB = Path(__file__).resolve().parent / "stub"
FLAKES = ["--extra-experimental-features", "nix-command flakes"]
SYSTEMS = ["x86_64-linux", "aarch64-linux"]
# What the flake needs to evaluate; copied so the test sees exactly these files
# and nothing another engineer has half-written elsewhere in the tree.
FLAKE_TREE = ["flake.nix", "flake.lock", "pkgs", "modules", "tests/nix", "pyproject.toml"]

SETTINGS = {
    "baseDomain": "ci.example.org",
    "stateDir": "/var/lib/ccci",
    "recipeSource": "https://git.coopcloud.tech/coop-cloud/{recipe}.git",
    "server": "default",
    "ingress": "domain",
    "abra": "/nix/store/00000000000000000000000000000000-abra/bin/abra",
}
RENDERED = {
    "base_domain": "ci.example.org",
    "state_dir": "/var/lib/ccci",
    "recipe_source": "https://git.coopcloud.tech/coop-cloud/{recipe}.git",
    "server": "default",
    "ingress": "domain",
    "abra": "/nix/store/00000000000000000000000000000000-abra/bin/abra",
}


@pytest.fixture(scope="session")
def nix_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("nix-home")
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PATH": str(Path(shutil.which("nix") or "nix").parent) + ":/usr/bin:/bin",
        "NIX_STORE_ROOT": str(home / "store"),
    }


def run_nix(
    env: dict[str, str], *argv: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run one nix command (argv list, logged) against the tmp chroot store."""
    program, *rest = argv
    full = [program, "--store", env["NIX_STORE_ROOT"], *rest]
    log.info("run: %s", " ".join(full))
    result = subprocess.run(
        full, capture_output=True, text=True, env=env, check=False, timeout=120
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(full)} exited {result.returncode}:\n{result.stderr}")
    return result


def nix_literal(value: object) -> str:
    """A JSON-ish Python value as a Nix expression (strings, dicts, lists)."""
    if isinstance(value, dict):
        return "{ " + " ".join(f"{k} = {nix_literal(v)};" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[ " + " ".join(nix_literal(v) for v in value) + " ]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON string escapes are valid Nix, except `${` which Nix interpolates.
        return json.dumps(value).replace("${", "\\${")
    raise TypeError(f"no Nix literal for {value!r}")


def eval_json(env: dict[str, str], expr: str) -> object:
    result = run_nix(env, "nix-instantiate", "--eval", "--strict", "--json", "-E", expr)
    return json.loads(result.stdout)


def render(env: dict[str, str], settings: dict[str, str], check: bool = True):
    expr = f"import {REPO / 'modules/lib/config.nix'} {nix_literal(settings)}"
    argv = ["nix-instantiate", "--eval", "--strict", "--json", "-E", expr]
    return run_nix(env, *argv, check=check)


def nix_files() -> Iterator[Path]:
    for path in sorted(REPO.rglob("*.nix")):
        parts = path.relative_to(REPO).parts
        if ".git" not in parts and parts[0] != "result":
            yield path


# (a) parsing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path", list(nix_files()), ids=lambda p: str(p.relative_to(REPO))
)
def test_nix_file_parses(nix_env: dict[str, str], path: Path) -> None:
    run_nix(nix_env, "nix-instantiate", "--parse", str(path))


def test_the_owned_nix_files_are_all_found() -> None:
    found = {str(p.relative_to(REPO)) for p in nix_files()}
    assert {
        "flake.nix",
        "pkgs/ccci/default.nix",
        "modules/ccci.nix",
        "modules/lib/config.nix",
    } <= found


# (c) the parse check can fail ------------------------------------------------


def test_a_broken_expression_fails_to_parse(
    nix_env: dict[str, str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.nix"
    broken.write_text("{ services.ccci.enable = ; }\n")
    result = run_nix(nix_env, "nix-instantiate", "--parse", str(broken), check=False)
    assert result.returncode != 0
    assert "syntax error" in result.stderr


# (b) the builtins-only config logic ----------------------------------------


def test_config_renders_the_json_ccci_reads(nix_env: dict[str, str]) -> None:
    assert json.loads(render(nix_env, SETTINGS).stdout) == RENDERED


def test_config_keys_are_those_ccci_config_declares() -> None:
    # ccci/config.py rejects unknown keys; keep the two sides in step.
    source = (REPO / "ccci/config.py").read_text() if (REPO / "ccci/config.py").exists() else ""
    if "class Config" not in source:
        pytest.skip("ccci/config.py has no Config class yet")
    body = source.split("class Config", 1)[1].split("\n\n\n", 1)[0]
    declared = set(re.findall(r"^    ([a-z_]+): ", body, re.MULTILINE))
    assert set(RENDERED) <= declared


@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        ("baseDomain", "CI.example.org", "services.ccci.baseDomain"),
        ("baseDomain", "localhost", "services.ccci.baseDomain"),
        ("baseDomain", "https://ci.example.org", "services.ccci.baseDomain"),
        ("stateDir", "var/lib/ccci", "services.ccci.stateDir"),
        ("recipeSource", "https://git.example.org/recipe.git", "services.ccci.recipeSource"),
        ("server", "", "services.ccci.server"),
        ("ingress", "port", "services.ccci.ingress"),
        ("abra", "abra", "services.ccci.package"),
    ],
)
def test_config_refuses_what_ccci_would_refuse(
    nix_env: dict[str, str], key: str, bad: str, message: str
) -> None:
    result = render(nix_env, {**SETTINGS, key: bad}, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_config_refuses_an_unknown_setting(nix_env: dict[str, str]) -> None:
    result = render(nix_env, {**SETTINGS, "baseDomian": "x.example.org"}, check=False)
    assert result.returncode != 0
    assert "baseDomian" in result.stderr


def test_config_refuses_a_missing_setting(nix_env: dict[str, str]) -> None:
    settings = {k: v for k, v in SETTINGS.items() if k != "baseDomain"}
    result = render(nix_env, settings, check=False)
    assert result.returncode != 0
    assert "baseDomain" in result.stderr


# the module, called with a stub lib (tests/nix/stub/module-eval.nix) --------


def eval_module(env: dict[str, str], settings: dict[str, object]) -> dict:
    expr = f"import {STUB / 'module-eval.nix'} {{ settings = {nix_literal(settings)}; }}"
    result = eval_json(env, expr)
    assert isinstance(result, dict)
    return result


def test_module_options_are_typed_and_described(nix_env: dict[str, str]) -> None:
    module = eval_module(nix_env, {"enable": True, "baseDomain": "ci.example.org"})
    assert module["optionNames"] == sorted(
        ["enable", "package", "baseDomain", "stateDir", "recipeSource", "server", "ingress"]
    )
    assert module["untyped"] == []
    assert module["undescribed"] == []


def test_module_renders_its_defaults_into_the_config(nix_env: dict[str, str]) -> None:
    module = eval_module(nix_env, {"enable": True, "baseDomain": "ci.example.org"})
    assert module["onlyWhenEnabled"] is True
    assert module["rendered"] == RENDERED
    assert module["docker"] is True
    assert module["stateDirs"] == ["/var/lib/ccci"]


def test_module_passes_overrides_through(nix_env: dict[str, str]) -> None:
    settings = {
        "enable": True,
        "baseDomain": "ci.example.org",
        "stateDir": "/srv/ccci",
        "ingress": "host-port",
    }
    module = eval_module(nix_env, settings)
    assert module["rendered"]["state_dir"] == "/srv/ccci"
    assert module["rendered"]["ingress"] == "host-port"
    assert module["stateDirs"] == ["/srv/ccci"]


# (d) the flake, against a stub nixpkgs ---------------------------------------


def test_flake_lock_pins_nixpkgs() -> None:
    lock = json.loads((REPO / "flake.lock").read_text())
    assert lock["version"] == 7
    assert lock["root"] == "root"
    assert lock["nodes"]["root"]["inputs"] == {"nixpkgs": "nixpkgs"}
    node = lock["nodes"]["nixpkgs"]
    assert node["original"] == {
        "owner": "NixOS",
        "ref": "nixos-25.11",
        "repo": "nixpkgs",
        "type": "github",
    }
    assert re.fullmatch(r"[0-9a-f]{40}", node["locked"]["rev"])
    assert node["locked"]["narHash"].startswith("sha256-")


@pytest.fixture(scope="module")
def flake(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A copy of the flake's own files and of the stub nixpkgs, as path: refs."""
    root = tmp_path_factory.mktemp("flake")
    for name in FLAKE_TREE:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    stub = tmp_path_factory.mktemp("stub-nixpkgs")
    shutil.copy2(STUB / "nixpkgs/flake.nix", stub / "flake.nix")
    return f"path:{root}", f"path:{stub}"


def flake_eval(
    env: dict[str, str], flake: tuple[str, str], attr: str, apply: str | None = None
) -> object:
    ref, stub = flake
    argv = ["nix", *FLAKES, "eval", "--json", "--no-write-lock-file"]
    argv += ["--override-input", "nixpkgs", stub, f"{ref}#{attr}"]
    if apply is not None:
        argv += ["--apply", apply]
    return json.loads(run_nix(env, *argv).stdout)


@pytest.mark.parametrize("system", SYSTEMS)
def test_flake_outputs_per_system(
    nix_env: dict[str, str], flake: tuple[str, str], system: str
) -> None:
    names = "builtins.attrNames"
    assert flake_eval(nix_env, flake, f"packages.{system}", names) == ["ccci", "default"]
    assert flake_eval(nix_env, flake, f"apps.{system}", names) == ["run"]
    assert flake_eval(nix_env, flake, f"devShells.{system}", names) == ["default"]
    assert flake_eval(nix_env, flake, f"checks.{system}", names) == ["ccci", "module-config"]
    assert flake_eval(nix_env, flake, "formatter", names) == sorted(SYSTEMS)


def test_flake_app_runs_ccci_run(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    app = flake_eval(nix_env, flake, "apps.x86_64-linux.run")
    assert isinstance(app, dict)
    assert app["type"] == "app"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    # The stub's outPath for the package; a real build gives a real hash.
    assert app["program"] == (
        f"/nix/store/00000000000000000000000000000000-ccci-{version}/bin/ccci-run"
    )


def test_flake_module_is_a_module_function(
    nix_env: dict[str, str], flake: tuple[str, str]
) -> None:
    args = flake_eval(
        nix_env, flake, "nixosModules.default", "m: builtins.functionArgs (import m)"
    )
    assert args == {"config": False, "lib": False, "pkgs": False}


def test_package_follows_pyproject(nix_env: dict[str, str], flake: tuple[str, str]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    package = flake_eval(
        nix_env,
        flake,
        "packages.x86_64-linux.ccci",
        "p: { inherit (p) pname version pyproject doCheck; "
        "deps = map (d: d.name) p.dependencies; "
        "program = p.meta.mainProgram; }",
    )
    assert isinstance(package, dict)
    assert package["pname"] == pyproject["name"]
    assert package["version"] == pyproject["version"]
    assert package["pyproject"] is True
    # The integration tests need a swarm; they never run in the Nix build.
    assert package["doCheck"] is False
    assert package["program"] in pyproject["scripts"]
    wanted = sorted(re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in pyproject["dependencies"])
    # python3-docker, not the engine: catches `with python3Packages;` shadowing.
    assert sorted(package["deps"]) == [f"python3-{name}" for name in wanted]


def test_package_pins_tools_and_abra_is_overridable(
    nix_env: dict[str, str], flake: tuple[str, str]
) -> None:
    paths = flake_eval(
        nix_env,
        flake,
        "packages.x86_64-linux.ccci",
        "p: { default = p.makeWrapperArgs; "
        'swapped = (p.override { abra = { outPath = "/nix/store/11111111111111111111111111111111-abra-pinned"; }; }).makeWrapperArgs; '
        "abra = p.abra.name; }",
    )
    assert isinstance(paths, dict)
    flag, var, sep, path = paths["default"]
    assert (flag, var, sep) == ("--prefix", "PATH", ":")
    tools = [entry.split("-", 1)[1].removesuffix("/bin") for entry in path.split(":")]
    assert tools == ["abra", "docker", "git", "gnutar", "util-linux", "coreutils"]
    assert paths["swapped"][3].split(":")[0] == (
        "/nix/store/11111111111111111111111111111111-abra-pinned/bin"
    )
    assert paths["abra"] == "abra"
