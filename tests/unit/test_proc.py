"""The process seam, with real child processes."""

import re
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# -- transcript names: sequence, program, subcommand; never a path -----------------

@pytest.mark.parametrize(
    ("argv", "stem"),
    [
        (["git", "clone", "--quiet", "--no-checkout", "--", "file:///var/lib/r/fx-web",
          "/var/lib/ccci-testbed/state/abra/e87bf3/recipes/fx-web"], "git-clone"),
        (["git", "-C", "/var/lib/ccci-testbed/state/abra/e87bf3/recipes/fx-web", "checkout", "--quiet", "HEAD"],
         "git-checkout"),
        (["/usr/bin/abra", "app", "deploy", "fx-w-e87bf3.ccci.test", "1.1.0+1.35.0", "--no-input"], "abra-app-deploy"),
        (["/usr/bin/abra", "app", "secret", "generate", "fx-w-e87bf3.ccci.test", "--all"], "abra-app-secret-generate"),
        (["/usr/bin/abra", "server", "add", "--local"], "abra-server-add"),
        (["/usr/bin/python3.11", "-m", "pytest", "-q", "-p", "no:cacheprovider", "/x/test_a.py"], "python3.11-pytest"),
    ],
)
def test_transcripts_are_named_by_program_and_subcommand(argv, stem):
    assert proc.transcript_stem(argv) == stem


_words = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=0, max_size=40)


@given(program=_words.filter(bool), words=st.lists(_words, max_size=8))
def test_a_transcript_name_never_holds_a_path_or_odd_characters(program, words):
    argv0 = f"/some/dir/{program}"
    stem = proc.transcript_stem([argv0, *words])
    assert "/" not in stem and re.fullmatch(r"[A-Za-z0-9._-]+", stem), stem
    # at most the program and three subcommand words, each a plain lowercase word
    program_part = re.sub(r"[^A-Za-z0-9._-]", "_", Path(argv0).name)[:40] or "call"
    rest = stem[len(program_part):]
    assert stem.startswith(program_part) and (rest == "" or rest.startswith("-"))
    subcommands = [w for w in rest.split("-") if w]
    assert all(w in "-".join(words) for w in subcommands)
    assert len(stem) <= 40 + 3 * 31


def test_calls_name_each_transcript_by_sequence_program_and_subcommand(tmp_path):
    calls = Calls(tmp_path)
    proc.run(["git", "init", "--quiet", str(tmp_path / "repo")], calls=calls)
    proc.run(["git", "-C", str(tmp_path / "repo"), "rev-parse", "--git-dir"], calls=calls)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["001-git-init.log", "002-git-rev-parse.log"]
