"""tests/bed/go/build: the cache of pinned Go programs that setup fills in the
background. These cases build nothing (a real build takes many minutes and
is exercised by the tests that use traefik and Gitea); they prove the
contract those tests and setup rely on: bad or unpinned names are refused
before anything is made, a built binary is reused, `--missing` tells what
setup still has to build, and a caller waits for a build in progress instead
of starting a second one.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BUILD = Path(__file__).resolve().parents[1] / "bed" / "go" / "build"
PINNED = re.search(r"^pinned=\(([^)]*)\)", (BUILD.parent / "programs").read_text(), re.M).group(1).split()


def run(cache: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, CCCI_CACHE=str(cache))
    return subprocess.run([str(BUILD), *args], env=env, capture_output=True, text=True, timeout=30, **kw)


def fake_binary(cache: Path, name: str) -> Path:
    path = cache / "go" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_missing_lists_every_pinned_program_until_each_is_built(tmp_path):
    empty = run(tmp_path, "--missing")
    assert empty.returncode == 1 and empty.stdout.split() == PINNED
    for name in PINNED:
        fake_binary(tmp_path, name)
    done = run(tmp_path, "--missing")
    assert done.returncode == 0 and done.stdout == ""


def test_a_built_binary_is_reused_without_building(tmp_path):
    name = PINNED[0]
    binary = fake_binary(tmp_path, name)
    got = run(tmp_path, name.split("-", 1)[0], name.split("-", 1)[1])
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == str(binary) and "building" not in got.stderr


def test_a_caller_waits_for_the_build_in_progress(tmp_path):
    name = PINNED[0]
    (tmp_path / "go").mkdir()
    with open(tmp_path / "go" / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a build in progress holds this
        env = dict(os.environ, CCCI_CACHE=str(tmp_path))
        waiter = subprocess.Popen([str(BUILD), *name.split("-", 1)], env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        assert waiter.poll() is None, "did not wait for the build holding the lock"
        binary = fake_binary(tmp_path, name)  # the build finishes ...
    out, _ = waiter.communicate(timeout=20)  # ... and releases the lock
    assert waiter.returncode == 0 and out.strip() == str(binary)


@pytest.mark.parametrize("args", [(), ("traefik",), ("traefik", "v3.6.15", "extra"), ("--bogus",)])
def test_wrong_arguments_get_the_usage_line(tmp_path, args):
    got = run(tmp_path, *args)
    assert got.returncode == 2 and "usage:" in got.stderr
    assert not (tmp_path / "go").exists()


@settings(max_examples=60, deadline=None)
@given(name=st.text(min_size=1, max_size=12), version=st.text(min_size=1, max_size=12))
def test_names_that_are_not_pinned_are_refused_and_nothing_is_made(tmp_path_factory, name, version):
    if f"{name}-{version}" in PINNED or "\x00" in name + version:
        return  # pinned is valid input; NUL cannot be an argument at all
    cache = tmp_path_factory.mktemp("cache")
    got = run(cache, name, version)
    assert got.returncode == 2 and "is not pinned" in got.stderr
    assert list(cache.rglob("*")) in ([], [cache / "go"])
    assert not any(p.is_file() for p in cache.rglob("*"))
