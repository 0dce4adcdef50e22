"""What every console script shares: one declared command line, reading the
config file, logging to stderr, and the mapping of errors to exit codes.

Exit codes: 0 success; 1 a red run or an operational failure (engine
unreachable, app busy, low disk); 2 bad input (nothing was created; an
argument error also prints the usage line); 128+N stopped by signal N after
cleaning up.

Importing this module (and parsing argv) stays cheap on purpose: `--help`
and argument errors answer before docker, keycloak, plumbum or cattrs are
imported. Each entry point imports its job inside its body.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccci.pure.names import BadInput, RecipeName, RunId

if TYPE_CHECKING:
    from ccci.pure.bridge_config import BridgeConfig
    from ccci.pure.config import Config
    from ccci.pure.results import RunResult

CONFIG_PATH = Path("/etc/ccci/config.json")
BRIDGE_CONFIG_PATH = Path("/etc/ccci/bridge.json")


class UsageError(BadInput):
    """argv does not fit the command line; carries the usage line to show."""

    def __init__(self, message: str, usage: str):
        super().__init__(message)
        self.usage = usage.strip()


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and the usage, exit 2, like every other bad input
        raise UsageError(message, self.format_usage())


# -- declaring a command line -----------------------------------------------------


class Arg:
    """One argparse argument, declared as data: `Arg("recipe", help=...)`."""

    def __init__(self, *names: str, **options: Any):
        self.names, self.options = names, options

    def add_to(self, parser: Any) -> None:
        parser.add_argument(*self.names, **self.options)


class OneOf:
    """Mutually exclusive arguments."""

    def __init__(self, *args: Arg):
        self.args = args

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group()
        for arg in self.args:
            arg.add_to(group)


class Sub:
    """A subcommand with its own arguments (`ccci-bridge serve ...`)."""

    def __init__(self, name: str, help: str, *specs: Arg | OneOf):  # noqa: A002
        self.name, self.help, self.specs = name, help, specs


def config_arg(default: Path = CONFIG_PATH, env: str | None = "CCCI_CONFIG") -> Arg:
    where = f"${env} or {default}" if env else str(default)
    return Arg("--config", type=Path, help=f"config file (default: {where})")


DEBUG = Arg("--debug", action="store_true", help="show tracebacks")


class Command:
    """A console script's command line, and the guard its body runs in."""

    def __init__(self, prog: str, description: str, *specs: Arg | OneOf | Sub, log_tag: str = "ccci"):
        self.prog, self.description, self.specs, self.log_tag = prog, description, specs, log_tag

    def parser(self) -> Parser:
        parser = Parser(prog=self.prog, description=self.description)
        subs = [spec for spec in self.specs if isinstance(spec, Sub)]
        for spec in self.specs:
            if not isinstance(spec, Sub):
                spec.add_to(parser)
        if subs:
            chooser = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
            for sub in subs:
                sub_parser = chooser.add_parser(sub.name, help=sub.help, description=sub.help)
                for spec in sub.specs:
                    spec.add_to(sub_parser)
        return parser

    def main(self, argv: Sequence[str] | None, body: Callable[[argparse.Namespace], int]) -> int:
        """Parse argv, then run `body` under `guarded`."""
        argv = list(argv) if argv is not None else sys.argv[1:]
        return guarded(self.prog, argv, lambda: body(self.parser().parse_args(argv)), self.log_tag)


# -- the config files -------------------------------------------------------------


def _read(path: Path, what: str, hint: str) -> bytes:
    from ccci.pure.strict import BadConfig

    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadConfig(f"no {what} at {path} ({hint})") from None
    except OSError as problem:
        raise BadConfig(f"cannot read {what} {path}: {problem.strerror or problem}") from None


def config_path(path: Path | None) -> Path:
    """`path`, else $CCCI_CONFIG, else /etc/ccci/config.json."""
    return path or Path(os.environ.get("CCCI_CONFIG") or CONFIG_PATH)


def load_config(path: Path | None = None) -> Config:
    """The ccci config from `config_path(path)`, or BadConfig in one line."""
    from ccci.pure import config, strict

    path = config_path(path)
    text = _read(path, "config file", "set --config or CCCI_CONFIG")
    return strict.load(text, config.Config, config.CONVERTER, f"config {path}")


def load_bridge_config(path: Path | None = None) -> BridgeConfig:
    """The bridge config from `path` (default /etc/ccci/bridge.json)."""
    from ccci.pure import bridge_config, strict

    path = path or BRIDGE_CONFIG_PATH
    text = _read(path, "bridge config", "set --config")
    return strict.load(text, bridge_config.BridgeConfig, bridge_config.CONVERTER, f"bridge config {path}")


RUN_ID = Arg("--run-id", help="name the run with these six hex digits (default: fresh ones); the bridge "
             "picks it (CI's RUN_ID) so a PR can link the run's page before the run starts")


def chosen_run_id(value: str | None, config: Config, recipe: str) -> RunId | None:
    """`--run-id` checked: six hex digits, and no run of `recipe` has used it (BadInput)."""
    from ccci.capabilities import artifacts

    if value is None:
        return None
    run_id = RunId.parse(value)
    folder = artifacts.run_folder(config, RecipeName.parse(recipe), run_id)
    if folder.exists():
        raise BadInput(f"run id {run_id} is taken: {folder} exists (a restarted CI build reuses its RUN_ID; "
                       "comment again for a new run)")
    return run_id


# -- running a body -----------------------------------------------------------------


class _Stderr(logging.StreamHandler):
    """A handler on whatever `sys.stderr` is when a record is written, not the
    stream it was at set-up: a body run in-process (tests) whose stderr is
    swapped and closed afterwards leaves no handler on a closed file."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(debug: bool, tag: str = "ccci") -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format=f"{tag}: %(message)s",
        handlers=[_Stderr()],
        force=True,
    )


def report_run(partial: RunResult, job: Callable[[], RunResult]) -> RunResult:
    """Run a cold or quick run's job; its result JSON on stdout and its final
    line on stderr, also when it is interrupted (`partial`: the run's result
    so far). Refused input raises before anything is printed."""
    from ccci.pure import results

    try:
        result = job()
    except BadInput:
        raise  # refused input: one line on stderr, nothing on stdout
    except BaseException:
        if partial.stages or partial.teardown.status is not results.Status.SKIPPED:
            print(results.to_json(partial))  # an interrupted run still reports
            logging.getLogger("ccci").info("%s", results.summary_line(partial))
        raise
    print(results.to_json(result))
    logging.getLogger("ccci").info("%s", results.summary_line(result))
    return result


# Operational failures (exit 1, one line). Named by module so that reading
# them costs no import: an error of a module never imported cannot occur.
OPERATIONAL = (
    ("ccci.seams.engine", "EngineError"),
    ("ccci.capabilities.locks", "Busy"),
    ("ccci.capabilities.capacity", "LowDisk"),
)
INTERRUPTED = ("ccci.capabilities.signals", "Interrupted")


def _loaded(*names: tuple[str, str]) -> tuple[type[BaseException], ...]:
    found = (getattr(sys.modules[module], name) for module, name in names if module in sys.modules)
    return tuple(found)


def guarded(prog: str, argv: Sequence[str] | None, body: Callable[[], int], tag: str = "ccci") -> int:
    """Run `body`, turning ccci's errors into one line on stderr and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    setup_logging(debug, tag)
    try:
        return body()
    except BadInput as error:
        if isinstance(error, UsageError):
            print(error.usage, file=sys.stderr)
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    except BaseException as error:
        if isinstance(error, _loaded(*OPERATIONAL)):
            print(f"{prog}: {error}", file=sys.stderr)
            return 1
        if isinstance(error, _loaded(INTERRUPTED)):
            print(f"{prog}: {error}; cleaned up", file=sys.stderr)
            return 128 + error.signum  # type: ignore[attr-defined]
        if debug or not isinstance(error, Exception):
            raise
        print(f"{prog}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
