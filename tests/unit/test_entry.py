"""The console scripts' shared shape: usage on argument errors, a fast --help (issue 17 item 6)."""

import importlib
import io
import json
import logging
import subprocess
import sys

import pytest

from ccci.entry import common

COMMANDS = ["run", "quick", "snapshot", "reconcile", "nightly", "bridge"]
HEAVY = ["docker", "keycloak", "plumbum", "cattrs", "requests"]


def _python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_imports_nothing_heavy(name):
    probe = (
        "import runpy, sys, json\n"
        f"sys.argv = ['ccci-{name}', '--help']\n"
        "try:\n"
        f"    runpy.run_module('ccci.entry.{name}', run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        f"print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]), file=sys.stderr)\n"
    )
    done = _python("-c", probe)
    code, heavy = json.loads(done.stderr.strip().splitlines()[-1])
    assert code in (0, None) and f"ccci-{name}" in done.stdout and "usage:" in done.stdout
    assert heavy == [], f"--help of ccci-{name} imported {heavy}"


@pytest.mark.parametrize("name", COMMANDS)
def test_an_argument_error_prints_the_usage_line_and_the_error(name):
    done = _python("-m", f"ccci.entry.{name}", "--no-such-option")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"usage: ccci-{name}")
    assert lines[-1] == f"ccci-{name}: unrecognized arguments: --no-such-option" or \
        lines[-1].startswith(f"ccci-{name}: the following arguments are required")


def test_ccci_run_without_arguments_says_what_is_missing_under_its_usage():
    done = _python("-m", "ccci.entry.run")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: ccci-run ")
    assert done.stderr.strip().splitlines()[-1] == "ccci-run: the following arguments are required: recipe"


def test_the_operational_errors_named_by_module_exist():
    for module, name in (*common.OPERATIONAL, common.INTERRUPTED):
        assert isinstance(getattr(importlib.import_module(module), name), type)


def test_an_operational_error_is_exit_1_in_one_line(capsys):
    from ccci.capabilities.locks import Busy

    def body():
        raise Busy("app fx-web is busy")

    assert common.guarded("ccci-x", [], body) == 1
    assert capsys.readouterr().err == "ccci-x: app fx-web is busy\n"


def test_logging_follows_stderr_when_it_is_swapped_and_the_old_one_closed(monkeypatch):
    """A body run in-process (a test) whose stderr is captured and then closed
    must not leave the log handler writing to the closed stream."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    common.setup_logging(False, "t")
    logging.getLogger("ccci").info("one")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("ccci").info("two")
    assert second.getvalue() == "t: two\n"
