"""Suites run as real pytest subprocesses; their JUnit decides."""

from ccci.capabilities import suites


def test_passing_and_failing_suites_are_counted(tmp_path):
    (tmp_path / "test_a.py").write_text(
        "import os\n"
        "def test_env(): assert os.environ['CCCI_X'] == 'y'\n"
        "def test_bad(): assert 1 == 2, 'one is not two'\n"
    )
    result = suites.run_suite("s", [tmp_path / "test_a.py"], env={"CCCI_X": "y"}, out_dir=tmp_path / "out", timeout=120)
    assert (result.passed, result.failed) == (1, 1) and not result.ok
    assert "test_bad" in result.failures[0]
    assert (tmp_path / "out" / "s.xml").is_file()


def test_a_suite_without_files_runs_nothing(tmp_path):
    result = suites.run_suite("none", [], env={}, out_dir=tmp_path, timeout=10)
    assert result.ok and not result.ran and result.summary() == "none: no tests"


def test_overlay_files_are_chosen_by_stage(tmp_path):
    for name in ["test_install_a.py", "test_upgrade.py", "test_custom_b.py", "helper.py"]:
        (tmp_path / name).write_text("")
    assert [p.name for p in suites.overlay_files(str(tmp_path), "install")] == ["test_install_a.py"]
    assert suites.overlay_files(None, "install") == []


def test_generic_files_exist_for_each_testing_stage():
    for stage in ("install", "upgrade", "custom"):
        assert suites.generic_files(stage) and all(f.is_file() for f in suites.generic_files(stage))
