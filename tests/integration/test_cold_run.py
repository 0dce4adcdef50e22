"""Cold runs on the real swarm with the abra the test bed provides.

Each test proves its claim the way an operator would check it: run
`ccci-run` as a process, read its result JSON, then look at the engine
(`docker service/volume/secret/config/network ls` by the stack's label or
name) and at the run's ABRA_DIR to show that nothing of the run is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ccci.seams import engine

pytestmark = pytest.mark.integration


def ccci_run(config_path: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ccci.entry.run", "--config", str(config_path), *args],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def assert_nothing_left(client, config, result: dict) -> None:
    stack = engine.Stack(client, result["stack"])
    assert stack.leftovers() == {}, f"left on the engine: {stack.leftovers()}"
    abra_dir = config.state / "abra" / result["run_id"]
    assert not abra_dir.exists(), f"ABRA_DIR {abra_dir} still there"
    names = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True).stdout
    assert result["stack"] not in names


def stage_map(result: dict) -> dict[str, dict]:
    return {stage["name"]: stage for stage in result["stages"]}


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def assert_records_the_abra(config, result: dict, folder: Path) -> None:
    """Which abra ran, from evidence: the bed's binary and its own --version."""
    abra = result["abra"]
    assert abra["path"] == os.path.realpath(config.abra)
    version = subprocess.run(["script", "-qc", f"{abra['path']} --version", "/dev/null"],
                             capture_output=True, text=True).stdout
    assert f"abra version {abra['version']}" in version
    expected = "stand-in" if Path(config.abra).name == "abra-standin" else "real"
    assert abra["kind"] == expected
    suite = ET.fromstring((folder / "junit.xml").read_text())
    assert f"abra {abra['version']} ({expected}, {abra['path']})" in suite.get("name")


@pytest.mark.parametrize("recipe", ["fx-web", "fx-pair"])
def test_every_fixture_recipe_goes_green_through_all_stages(bed_config, plain_config_path, docker_client, recipe):
    done = ccci_run(plain_config_path, recipe)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "passed" and result["mode"] == "cold"
    assert [s["name"] for s in result["stages"]] == ["install", "upgrade", "backup", "restore", "custom"]
    assert all(s["status"] == "passed" for s in result["stages"]), result["stages"]
    assert result["from_version"] == "1.0.0+1.35.0" and result["to_version"] == "1.1.0+1.35.0"
    assert result["domain"] == f"{recipe[:4].rstrip('-')}-{result['run_id']}.ccci.test"
    # generic tests ran before the recipe's own, in the custom stage
    custom = stage_map(result)["custom"]["tests"]
    assert custom.index("custom-generic") < custom.index("custom-recipe"), custom
    assert "custom-recipe: 0 passed" not in custom
    folder = Path(result["artifacts"])
    assert json.loads((folder / "result.json").read_text())["run_id"] == result["run_id"]
    assert (folder / "junit.xml").read_text().count("<testcase") == 6
    assert_records_the_abra(bed_config, result, folder)
    # Transcripts: sequence, program, subcommand; never a path.
    names = sorted(p.name for p in (folder / "calls").iterdir())
    assert names[:2] == ["001-git-clone.log", "002-git-checkout.log"], names
    abra = Path(bed_config.abra).name
    assert f"{abra}-app-deploy.log" in {name[4:] for name in names}, names
    assert all(re.fullmatch(r"\d{3}-[A-Za-z0-9.-]+\.log", name) for name in names), names
    # The run ends with one line: verdict, duration, what was promoted, where.
    line = last_line(done.stderr)
    assert re.search(rf"GREEN cold run of {recipe} in \d+\.\ds; nothing promoted", line), line
    assert line.endswith(f"artifacts: {folder}")
    assert not (folder / "failure").exists()
    assert_nothing_left(docker_client, bed_config, result)


@pytest.mark.parametrize(
    ("ref", "cause"),
    [("broken/missing-image", "No such image"), ("broken/unhealthy", "unhealthy")],
)
def test_a_broken_release_fails_at_install_naming_the_cause(bed_config, plain_config_path, docker_client, ref, cause):
    done = ccci_run(plain_config_path, "fx-web", "--ref", ref, "--stages", "install,custom")
    assert done.returncode == 1, done.stderr[-3000:]
    result = json.loads(done.stdout)
    stages = stage_map(result)
    assert stages["install"]["status"] == "failed" and cause in stages["install"]["reason"], stages
    assert stages["custom"]["status"] == "skipped"
    assert cause in result["reason"]
    failure = Path(result["artifacts"]) / "failure"
    tasks = json.loads((failure / "tasks.json").read_text())
    assert tasks and any(t["service"] == "app" for t in tasks)
    assert (failure / "app.log").is_file()
    assert result["teardown"]["status"] == "passed"
    line = last_line(done.stderr)
    assert "RED cold run of fx-web" in line and cause in line and line.endswith(f"artifacts: {result['artifacts']}")
    assert_nothing_left(docker_client, bed_config, result)


def test_sigterm_mid_install_tears_everything_down(bed_config, plain_config_path, docker_client):
    before = set(os.listdir(bed_config.state / "runs")) if (bed_config.state / "runs").exists() else set()
    stacks_before = {s.attrs["Spec"]["Labels"].get(engine.NAMESPACE) for s in docker_client.services.list()}
    process = subprocess.Popen(
        [sys.executable, "-m", "ccci.entry.run", "--config", str(plain_config_path), "fx-pair"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    # Wait until the run's stack exists on the engine: the install is under way.
    deadline = time.monotonic() + 180
    stack_name = None
    while time.monotonic() < deadline and stack_name is None:
        for service in docker_client.services.list():
            name = service.attrs["Spec"]["Labels"].get(engine.NAMESPACE, "")
            if name.startswith("fx-p-") and name not in stacks_before:
                stack_name = name
        time.sleep(0.5)
    assert stack_name, "the run never deployed"
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, err[-2000:]
    result = json.loads(out)
    assert result["stack"] == stack_name and result["status"] == "failed"
    assert "SIGTERM" in result["reason"]
    assert_nothing_left(docker_client, bed_config, result)
    new = set(os.listdir(bed_config.state / "runs")) - before
    assert len(new) == 1


def test_two_cold_runs_of_one_recipe_at_once_both_go_green(bed_config, plain_config_path, docker_client):
    argv = [sys.executable, "-m", "ccci.entry.run", "--config", str(plain_config_path), "fx-web"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL) for _ in range(2)]
    outputs = [run.communicate(timeout=1200) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    first, second = (json.loads(out) for out, _ in outputs)
    assert first["run_id"] != second["run_id"] and first["stack"] != second["stack"]
    assert first["artifacts"] != second["artifacts"]
    for result in (first, second):
        assert_nothing_left(docker_client, bed_config, result)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["../etc"], "bad recipe name"),
        (["fx-web", "--ref", "--upload-pack=touch /tmp/x"], "bad ref"),
        (["fx-web", "--stages", "install,deploy"], "bad stage list"),
        # git's own error line, not its generic "check your access rights" hint
        (["no-such-recipe"], "does not appear to be a git repository"),
        (["fx-web", "--ref", "no-such-branch"], "not in the recipe's repository"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(plain_config_path, docker_client, tmp_path, args, says):
    # Its own state, already at the retention limit: a refused run must not even prune.
    data = json.loads(plain_config_path.read_text())
    data.update(state_dir=str(tmp_path / "state"), keep_runs=2)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(data))
    runs = tmp_path / "state" / "runs"
    for name in ("fx-web-000001", "fx-web-000002", "fx-web-000003"):
        (runs / name).mkdir(parents=True)
    abra = tmp_path / "state" / "abra"
    services_before = {s.name for s in docker_client.services.list()}
    done = ccci_run(config, *args, timeout=120)
    assert done.returncode == 2
    # Only the refusal: no run id, no clone line, no teardown line.
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccci-run: ") and says in lines[0], done.stderr
    assert done.stdout == ""
    assert sorted(os.listdir(runs)) == ["fx-web-000001", "fx-web-000002", "fx-web-000003"]
    assert not abra.exists() or os.listdir(abra) == []
    assert {s.name for s in docker_client.services.list()} == services_before


def test_a_bad_config_file_is_refused_before_anything(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"base_domain": "ccci.test", "surprise": True}))
    done = ccci_run(config, "fx-web", timeout=60)
    assert done.returncode == 2 and "surprise" in done.stderr and done.stdout == ""
