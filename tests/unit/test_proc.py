"""The process seam, with real child processes."""

import time

import pytest

from ccci.seams import proc
from ccci.seams.proc import Calls, CommandError


def test_success_returns_output_and_code():
    done = proc.run(["sh", "-c", "echo out; echo err >&2"])
    assert done.exit_code == 0 and "out" in done.output and "err" in done.output


def test_failure_raises_with_argv_code_and_output():
    with pytest.raises(CommandError) as caught:
        proc.run(["sh", "-c", "echo boom; exit 3"])
    error = caught.value
    assert error.argv == ["sh", "-c", "echo boom; exit 3"]
    assert error.exit_code == 3 and "boom" in error.output and "exited 3" in str(error)


def test_check_false_returns_the_code():
    assert proc.run(["sh", "-c", "exit 4"], check=False).exit_code == 4


def test_missing_program_is_a_command_error():
    with pytest.raises(CommandError, match="cannot run"):
        proc.run(["/nonexistent/ccci-nothing"])


def test_without_tty_the_child_has_no_terminal():
    assert proc.run(["sh", "-c", "test -t 0"], check=False).exit_code != 0


def test_with_tty_the_child_has_a_terminal_and_output_is_clean():
    done = proc.run(["sh", "-c", "test -t 0 && test -t 1 && printf 'a\\033[1mb\\033[0m\\r\\n'"], tty=True)
    assert done.output.strip() == "ab"


def test_tty_failure_carries_code_and_output():
    with pytest.raises(CommandError) as caught:
        proc.run(["sh", "-c", "echo FATA nope; exit 1"], tty=True)
    assert caught.value.exit_code == 1 and "FATA nope" in caught.value.output


@pytest.mark.parametrize("tty", [False, True])
def test_timeout_kills_the_whole_process_group(tty, tmp_path):
    flag = tmp_path / "survived"
    began = time.monotonic()
    with pytest.raises(CommandError, match="timed out"):
        proc.run(["sh", "-c", f"(sleep 3; touch {flag}) & sleep 30"], tty=tty, timeout=1)
    assert time.monotonic() - began < 10
    time.sleep(3.5)
    assert not flag.exists(), "a grandchild outlived the timeout"


def test_secret_output_is_withheld_everywhere(tmp_path):
    calls = Calls(tmp_path)
    with pytest.raises(CommandError) as caught:
        proc.run(["sh", "-c", "printf %s%s s3 cret; exit 1"], secret_output=True, calls=calls)
    assert "s3cret" not in caught.value.output
    assert all("s3cret" not in p.read_text() for p in tmp_path.iterdir())


def test_calls_keep_a_transcript_per_call(tmp_path):
    calls = Calls(tmp_path / "calls")
    proc.run(["sh", "-c", "echo hello"], calls=calls)
    proc.run(["sh", "-c", "exit 2"], calls=calls, check=False)
    files = sorted((tmp_path / "calls").iterdir())
    assert [f.name[:4] for f in files] == ["001-", "002-"]
    assert "hello" in files[0].read_text() and "# exit 2" in files[1].read_text()
    assert calls.count == 2 and calls.seconds > 0


def test_stdin_is_passed():
    assert proc.run(["cat"], stdin=b"fed").output == "fed"


def test_a_timeout_with_grace_lets_the_program_clean_up(tmp_path):
    flag = tmp_path / "cleaned"
    script = f"trap 'touch {flag}; exit 143' TERM; sleep 30 & wait"
    with pytest.raises(CommandError, match="timed out"):
        proc.run(["sh", "-c", script], timeout=1, term_grace=10)
    assert flag.exists()
