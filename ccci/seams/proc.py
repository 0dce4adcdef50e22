"""The one seam through which ccci runs another program.

argv lists only (plumbum commands, never a shell string). Every call is logged
as its joined argv; a failure raises `CommandError` carrying argv, exit code
and output. A call can run under a pseudo-terminal (abra dies without one:
"inappropriate ioctl for device"), is bounded by a timeout that kills its whole
process group, and is killed too when the run is interrupted. Output that may
hold secrets is neither logged nor kept.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pty
import re
import select
import shlex
import signal
import struct
import subprocess
import tempfile
import termios
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
from plumbum import local

log = logging.getLogger("ccci")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")
WITHHELD = "<output withheld: it may hold secrets>"


class CommandError(Exception):
    """An external program failed (non-zero exit, timeout or missing binary)."""

    def __init__(self, argv: Sequence[str], exit_code: int | None, output: str, why: str = ""):
        self.argv = list(argv)
        self.exit_code = exit_code
        self.output = output
        self.why = why or f"exited {exit_code}"
        super().__init__(f"{shlex.join(self.argv)}: {self.why}")

    def last_lines(self, count: int = 5) -> str:
        lines = [line for line in self.output.splitlines() if line.strip()]
        return " | ".join(lines[-count:])


def describe(error: BaseException) -> str:
    """One line for a failure: a failed call as `prog sub cmd exited N: last lines`."""
    if isinstance(error, CommandError):
        words = " ".join([Path(error.argv[0]).name, *error.argv[1:3]])
        detail = error.last_lines(3)
        return f"{words} {error.why}" + (f": {detail}" if detail else "")
    return str(error)


@attrs.frozen
class Completed:
    argv: list[str]
    exit_code: int
    output: str
    seconds: float
    errors: str = ""  # stderr, when it was asked to be kept apart


@attrs.define
class Calls:
    """Where call transcripts go and how long calls took (for the benchmark)."""

    folder: Path | None = None
    seconds: float = 0.0
    count: int = 0
    secrets: set[str] = attrs.Factory(set)  # values never to be written down

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    def record(self, argv: Sequence[str], output: str, exit_code: int | None, seconds: float) -> None:
        self.seconds += seconds
        self.count += 1
        if self.folder is None:
            return
        output = self.redact(output)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:03d}-{transcript_stem(argv)}.log"
        path.write_text(f"$ {shlex.join(argv)}\n# exit {exit_code}, {seconds:.2f}s\n{output}")


_SUBCOMMAND = re.compile(r"[a-z][a-z0-9-]{0,29}")
_TAKES_A_VALUE = {"-C", "-c"}  # git -C <dir>, -c <key=value>: never part of the name
SUBCOMMAND_WORDS = 3


def transcript_stem(argv: Sequence[str]) -> str:
    """`<program>-<subcommand words>`: e.g. `git-clone`, `abra-app-deploy`.

    The program's file name, then the leading words that look like
    subcommands (options skipped), up to three; it stops at the first word
    that does not (a path, a URL, a domain, a version), so no path ever
    reaches a file name.
    """
    words: list[str] = []
    skip = False
    for word in argv[1:]:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in _TAKES_A_VALUE
            continue
        if not _SUBCOMMAND.fullmatch(word) or len(words) == SUBCOMMAND_WORDS:
            break
        words.append(word)
    program = re.sub(r"[^A-Za-z0-9._-]", "_", Path(argv[0]).name if argv else "")[:40] or "call"
    return "-".join([program, *words])


def clean(text: str) -> str:
    """Terminal output as plain text: colour codes and carriage returns gone."""
    return _ANSI.sub("", text)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    tty: bool = False,
    timeout: float = 600,
    check: bool = True,
    secret_output: bool = False,
    calls: Calls | None = None,
    stdin: bytes | None = None,
    term_grace: float = 0,
    stderr_apart: bool = False,
) -> Completed:
    """Run argv to completion; see the module docstring for the guarantees.

    term_grace: on timeout, SIGTERM the process group first and give it this
    long to clean up (a ccci run tears down on SIGTERM) before SIGKILL.
    stderr_apart: keep stderr out of `output` (for a child whose stdout is
    JSON); it is returned as `errors` and kept in the transcript.
    """
    argv = [str(word) for word in argv]
    log.info("$ %s", shlex.join(argv))
    started = time.monotonic()
    try:
        command = local[argv[0]][argv[1:]]
    except Exception as error:  # plumbum: CommandNotFound
        raise CommandError(argv, None, "", f"cannot run {argv[0]}: {error}") from None
    full_env = {**os.environ, **(env or {})}
    errors = tempfile.TemporaryFile() if stderr_apart else None
    try:
        if tty:
            code, output = _run_pty(command, full_env, cwd, timeout, argv)
        else:
            code, output = _run_pipe(command, full_env, cwd, timeout, argv, stdin, term_grace, errors)
    except OSError as error:  # the program is missing or not executable
        raise CommandError(argv, None, "", f"cannot run {argv[0]}: {error.strerror}") from None
    finally:
        error_text = ""
        if errors is not None:
            errors.seek(0)
            error_text = clean(errors.read().decode(errors="replace"))
            errors.close()
    seconds = time.monotonic() - started
    shown = WITHHELD if secret_output else clean(output)
    if calls is not None:
        calls.record(argv, shown + (f"\n# stderr\n{error_text}" if error_text else ""), code, seconds)
    if code is None:
        raise CommandError(argv, None, shown + error_text, f"timed out after {timeout:.0f}s")
    if check and code != 0:
        raise CommandError(argv, code, shown + error_text)
    return Completed(argv, code, shown, seconds, error_text)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _run_pipe(command, env, cwd, timeout, argv, stdin, term_grace=0.0, errors=None) -> tuple[int | None, str]:
    process = command.popen(
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=errors if errors is not None else subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        if term_grace > 0:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                out, _ = process.communicate(timeout=term_grace)
                return None, out.decode(errors="replace")
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        _kill_group(process)
        return None, ""
    except BaseException:
        _kill_group(process)
        raise
    return process.returncode, out.decode(errors="replace")


def _run_pty(command, env, cwd, timeout, argv) -> tuple[int | None, str]:
    master, slave = pty.openpty()
    # A wide terminal keeps tables (abra recipe lint) on one line per row.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 250, 0, 0))
    env = {**env, "NO_COLOR": "1", "TERM": "dumb"}
    try:
        process = command.popen(
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
        )
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill_group(process)
                return None, b"".join(chunks).decode(errors="replace")
            ready, _, _ = select.select([master], [], [], min(left, 1.0))
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except BaseException:
        _kill_group(process)
        raise
    finally:
        os.close(master)
    return code, b"".join(chunks).decode(errors="replace")


@contextmanager
def streaming(
    argv: Sequence[str],
    *,
    feed: bool = False,
    read: bool = False,
    timeout: float = 3600,
    env: Mapping[str, str] | None = None,
    calls: Calls | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run argv with its stdin (`feed`) and/or stdout (`read`) as a pipe.

    For streams too large to hold in memory (tar of a volume). The caller
    reads or writes the pipe inside the block; on leaving it, stdin is
    closed, the program is waited for (bounded), and a non-zero exit raises
    CommandError with what it printed on stderr. Leaving by an exception
    kills the program's process group first.
    """
    argv = [str(word) for word in argv]
    log.info("$ %s", shlex.join(argv))
    started = time.monotonic()
    errors = tempfile.TemporaryFile()
    try:
        process = local[argv[0]][argv[1:]].popen(
            stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
            stdout=subprocess.PIPE if read else subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    except OSError as error:
        errors.close()
        raise CommandError(argv, None, "", f"cannot run {argv[0]}: {error.strerror}") from None
    try:
        try:
            yield process
        except BaseException:
            _kill_group(process)
            raise
        if process.stdin:
            process.stdin.close()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            code = None
        if process.stdout:
            process.stdout.close()
        errors.seek(0)
        text = clean(errors.read().decode(errors="replace"))
        seconds = time.monotonic() - started
        if calls is not None:
            calls.record(argv, text, code, seconds)
        if code is None:
            raise CommandError(argv, None, text, f"timed out after {timeout:.0f}s")
        if code != 0:
            raise CommandError(argv, code, text)
    finally:
        errors.close()


def detach(argv: Sequence[str]) -> None:
    """Start argv in its own session and do not wait: for cleanup that may
    outlive the caller (removing a volume's replaced data)."""
    argv = [str(word) for word in argv]
    log.info("$ %s &", shlex.join(argv))
    # subprocess, not plumbum: plumbum's process object waits 0.2 s for the
    # child when it is dropped, which made every caller wait for nothing.
    subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
