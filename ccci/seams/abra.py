"""The abra seam: the one place ccci calls the `abra` CLI.

Each method builds the argv the real abra takes and runs it through `proc`
under a pseudo-terminal, with this run's own ABRA_DIR (runs that share
~/.abra/recipes deploy each other's trees). The calls that would fetch the
recipe (app new, deploy, upgrade, rollback, recipe lint) carry `--offline`:
ccci puts the recipe checkout into ABRA_DIR itself. `-c` skips abra's
own convergence wait, which misreports on slow hosts; ccci checks convergence
with the Engine API instead. `recipe lint` exits 0 even when an error rule
fails, so its table is parsed.

Every call that could prompt carries `--no-input`; deploy, upgrade and
rollback carry `-D` (`--no-domain-checks`) when the config says domains do
not resolve here. The server is read back from `$ABRA_DIR/servers/<name>`
after `server add --local`, not assumed. Evidence for each call:
docs/testbed.md ("What ccci calls, and why").
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from ccci.seams import proc
from ccci.seams.files import write_atomic
from ccci.pure.config import Config
from ccci.pure.names import Domain, RecipeName

NO_INPUT = "--no-input"
OFFLINE = "--offline"
NO_CONVERGE = "--no-converge-checks"
NO_DOMAIN_CHECKS = "--no-domain-checks"
TIMEOUT_LABEL = "coop-cloud.{stack}.timeout"


class LintError(proc.CommandError):
    """`abra recipe lint` printed no rule table, or one ccci cannot read exactly.

    Fails closed: the install stops. The raw output is `output` (and the call
    transcript in the run's `calls/` folder).
    """


@attrs.frozen
class LintRule:
    ref: str
    rule: str
    severity: str
    satisfied: bool
    skipped: bool

    @property
    def is_error(self) -> bool:
        return self.severity == "error" and not self.satisfied and not self.skipped


@attrs.frozen
class LintReport:
    rules: tuple[LintRule, ...]

    @property
    def errors(self) -> tuple[LintRule, ...]:
        return tuple(rule for rule in self.rules if rule.is_error)


_YES = {"✅", "✓", "✔", "yes", "true", "y"}
_NO = {"❌", "✗", "✘", "no", "false", "n"}
_SEVERITIES = {"error": "error", "warning": "warning", "warn": "warning"}
# The table styles ccci knows: a vertical separator and the characters a
# border line is made of. Anything else in the table is not understood.
_STYLES = {
    "box": ("│", set("┌┬┐├┼┤└┴┘─│╭╮╰╯ "), set("┌├└│╭╰")),
    "ascii": ("|", set("+-=|: "), set("+|")),
}
_REQUIRED = ("RULE", "SEVERITY", "SATISFIED")
_TEXT_COLUMNS = ("RULE", "RESOLVE")


class _Unreadable(Exception):
    pass


def parse_lint(output: str, argv: list[str] | None = None) -> LintReport:
    """Read abra's lint table exactly, or raise LintError: never skip what is not understood.

    The table is the lines from its first border or row to its last; within
    it every line must be a border of the table's one style or a row with
    exactly the header's number of cells (a cell that holds the separator
    makes more, so it is refused, not split). Every rule's SATISFIED and
    SKIPPED must read as yes or no, its SEVERITY as error or warning. A row
    whose only non-empty cells are RULE/RESOLVE continues the previous one
    (a wrapped cell).
    """
    argv = argv or ["abra", "recipe", "lint"]
    lines = proc.clean(output).split("\n")  # not splitlines(): \x0c, \x85, U+2028 are cell text here
    try:
        return LintReport(_rules(lines))
    except _Unreadable as problem:
        raise LintError(argv, 0, output, f"cannot read abra's lint table: {problem}") from None


def _style(lines: list[str]) -> tuple[str, set[str], set[str]] | None:
    """The style of the first line that starts like a table (its first character)."""
    for line in lines:
        first = line.strip()[:1]
        for style in _STYLES.values():
            if first and first in style[2]:
                return style
    return None


def _rules(lines: list[str]) -> tuple[LintRule, ...]:
    style = _style(lines)
    if style is None:
        raise _Unreadable("no lint table in output")
    bar, border, starts = style
    inside = [i for i, line in enumerate(lines) if line.strip()[:1] in starts]
    table = lines[inside[0]:inside[-1] + 1]
    header: list[str] | None = None
    rules: list[LintRule] = []
    for number, line in enumerate(table, start=inside[0] + 1):
        text = line.strip()
        if not text:
            raise _Unreadable(f"line {number} is blank inside the table")
        if set(text) <= border and bar not in text.strip(bar):
            continue  # a border line
        if not (text.startswith(bar) and text.endswith(bar)) or len(text) < 2:
            raise _Unreadable(f"line {number} is neither a border nor a row: {text[:80]!r}")
        cells = [cell.strip() for cell in text[1:-1].split(bar)]
        if header is None:
            header = [cell.upper() for cell in cells]
            missing = [name for name in _REQUIRED if name not in header]
            if missing or len(set(header)) != len(header):
                raise _Unreadable(f"header {cells!r} lacks {missing} or repeats a column")
            continue
        if len(cells) != len(header):
            raise _Unreadable(f"line {number} has {len(cells)} cells, the header {len(header)}: {text[:80]!r}")
        row = dict(zip(header, cells, strict=True))
        if [name for name, cell in row.items() if cell and name not in _TEXT_COLUMNS] == [] and rules:
            rules[-1] = _continued(rules[-1], row)
            continue
        rules.append(_rule(row, number))
    if header is None or not rules:
        raise _Unreadable("the table has no header or no rules")
    return tuple(rules)


def _flag(value: str, column: str, number: int) -> bool:
    lowered = value.lower()
    if lowered in _YES:
        return True
    if lowered in _NO or (column == "SKIPPED" and not value):
        return False
    raise _Unreadable(f"line {number}: {column} {value[:40]!r} is neither yes nor no")


def _rule(row: dict[str, str], number: int) -> LintRule:
    severity = _SEVERITIES.get(row["SEVERITY"].lower())
    if severity is None:
        raise _Unreadable(f"line {number}: unknown severity {row['SEVERITY'][:40]!r}")
    if not row["RULE"]:
        raise _Unreadable(f"line {number}: a rule without a name")
    return LintRule(
        ref=row.get("REF", ""),
        rule=row["RULE"],
        severity=severity,
        satisfied=_flag(row["SATISFIED"], "SATISFIED", number),
        skipped=_flag(row.get("SKIPPED", ""), "SKIPPED", number),
    )


def _continued(rule: LintRule, row: dict[str, str]) -> LintRule:
    more = row.get("RULE", "")
    return attrs.evolve(rule, rule=f"{rule.rule} {more}".strip())


def declared_timeout(labels: Mapping[str, str], stack: str) -> int | None:
    """The convergence timeout a recipe declares: `coop-cloud.${STACK_NAME}.timeout`
    in seconds, as abra reads it; None when absent or not a positive integer."""
    value = labels.get(TIMEOUT_LABEL.format(stack=stack), "").strip()
    if not value.isascii() or not value.isdigit() or int(value) <= 0:
        return None
    return int(value)


class ServerUnknown(proc.CommandError):
    """ABRA_DIR names several servers and none is the configured one."""


@attrs.frozen
class Abra:
    binary: str
    abra_dir: Path
    server: str = "default"  # the name to prefer; what abra created is read back
    timeout: float = 900
    calls: proc.Calls = attrs.field(factory=proc.Calls)
    domain_checks: bool = True

    @classmethod
    def from_config(cls, config: Config, abra_dir: Path, calls: proc.Calls) -> Abra:
        """The abra a job uses: the config's binary, server, timeout and domain checks."""
        return cls(config.abra, abra_dir, config.server, config.timeouts.abra, calls, config.domain_checks)

    # -- files abra keeps ------------------------------------------------------

    def recipe_dir(self, recipe: RecipeName) -> Path:
        return self.abra_dir / "recipes" / recipe.value

    def server_name(self) -> str:
        """The server `server add --local` created, read back from ABRA_DIR.

        Public evidence does not say what abra names the local server; ccci
        takes the configured name when it is there (or nothing is yet), else
        the only server there is.
        """
        root = self.abra_dir / "servers"
        try:
            names = sorted(path.name for path in root.iterdir() if path.is_dir())
        except FileNotFoundError:
            names = []
        if not names or self.server in names:
            return self.server
        if len(names) == 1:
            return names[0]
        raise ServerUnknown(
            ["ls", str(root)], None, "",
            f"{root} holds servers {names}, none of them the configured {self.server!r}",
        )

    def env_file(self, domain: Domain) -> Path:
        return self.abra_dir / "servers" / self.server_name() / f"{domain.value}.env"

    def recorded_version(self, domain: Domain) -> str | None:
        """The version abra recorded as `TYPE=<recipe>:<version>` (at `app new`
        already, so it may name a version that never ran)."""
        try:
            lines = self.env_file(domain).read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            key, _, value = line.partition("=")
            if key.strip() == "TYPE" and ":" in value:
                return value.split(":", 1)[1].strip()
        return None

    def set_env(self, domain: Domain, values: Mapping[str, str]) -> None:
        """Set `values` in the app's env file as an operator edits it (abra has
        no command that sets one value): an existing `KEY=` line is replaced,
        a missing key appended; comments and every other line are kept. The
        file stays private (it may now hold a client secret). Keys and values
        are validated by the config (ccci.pure.config: names and one-line
        values abra's dotenv reader takes as they are)."""
        path = self.env_file(domain)
        lines = path.read_text().splitlines()
        seen = set()
        for index, line in enumerate(lines):
            key = line.partition("=")[0].strip()
            if "=" in line and key in values:  # every such line: a reader may take the last
                lines[index] = f"{key}={values[key]}"
                seen.add(key)
        lines += [f"{key}={value}" for key, value in values.items() if key not in seen]
        write_atomic(path, "\n".join(lines) + "\n", mode=0o600)

    # -- calls -----------------------------------------------------------------

    def _run(self, *words: str, secret_output: bool = False, check: bool = True) -> proc.Completed:
        return proc.run(
            [self.binary, *words],
            env={"ABRA_DIR": str(self.abra_dir)},
            tty=True,
            timeout=self.timeout,
            secret_output=secret_output,
            calls=self.calls,
            check=check,
        )

    def _deploying(self) -> tuple[str, ...]:
        """Flags of every call that deploys: ccci waits for convergence itself."""
        checks = () if self.domain_checks else (NO_DOMAIN_CHECKS,)
        return (NO_INPUT, OFFLINE, NO_CONVERGE, *checks)

    def server_add_local(self) -> proc.Completed:
        return self._run("server", "add", "--local", NO_INPUT)

    def app_new(
        self, recipe: RecipeName, domain: Domain, version: str | None, *, chaos: bool = False
    ) -> proc.Completed:
        words = ["app", "new", recipe.value]
        if version is not None:
            words.append(version)
        words += ["--server", self.server_name(), "--domain", domain.value]
        if chaos:
            words.append("--chaos")
        return self._run(*words, NO_INPUT, OFFLINE)

    def secret_generate(self, domain: Domain) -> proc.Completed:
        # abra prints the generated values: never log or keep that output.
        return self._run(
            "app", "secret", "generate", domain.value, "--all", NO_INPUT, secret_output=True
        )

    def deploy(
        self, domain: Domain, version: str | None = None, *, chaos: bool = False, force: bool = False
    ) -> proc.Completed:
        words = ["app", "deploy", domain.value]
        if version is not None:
            words.append(version)
        if chaos:
            words.append("--chaos")
        if force:
            words.append("--force")
        return self._run(*words, *self._deploying())

    def upgrade(self, domain: Domain, version: str) -> proc.Completed:
        return self._run("app", "upgrade", domain.value, version, *self._deploying())

    def rollback(self, domain: Domain, version: str) -> proc.Completed:
        """`abra app rollback <domain> <version>`: back to an older release of a running app."""
        return self._run("app", "rollback", domain.value, version, *self._deploying())

    def undeploy(self, domain: Domain) -> proc.Completed:
        return self._run("app", "undeploy", domain.value, NO_INPUT)

    def backup_create(self, domain: Domain) -> proc.Completed:
        return self._run("app", "backup", "create", domain.value, NO_INPUT)

    def restore(self, domain: Domain) -> proc.Completed:
        return self._run("app", "restore", domain.value, NO_INPUT)

    def volume_remove(self, domain: Domain) -> proc.Completed:
        return self._run("app", "volume", "remove", domain.value, "--force", NO_INPUT)

    def secret_remove(self, domain: Domain) -> proc.Completed:
        return self._run("app", "secret", "remove", domain.value, "--all", NO_INPUT)

    def remove(self, domain: Domain) -> proc.Completed:
        return self._run("app", "remove", domain.value, "--force", NO_INPUT)

    def lint(self, recipe: RecipeName) -> LintReport:
        done = self._run("recipe", "lint", recipe.value, NO_INPUT, OFFLINE)
        return parse_lint(done.output, done.argv)


# -- the calls ccci makes, for the contract check (tests/abra-contract) ----------

_SAMPLE_RECIPE = RecipeName.parse("contract-recipe")
_SAMPLE_DOMAIN = Domain.parse("contract.example.invalid")
_SAMPLE_VERSION = "0.0.0+contract"
_SAMPLES = {"recipe": _SAMPLE_RECIPE, "domain": _SAMPLE_DOMAIN, "version": _SAMPLE_VERSION}


@attrs.frozen
class Usage:
    """One subcommand ccci calls and the flags it passes to it."""

    command: tuple[str, ...]
    flags: frozenset[str]


def usages() -> list[Usage]:
    """Every subcommand and flag the methods above put in an argv.

    Derived by calling each public call method with sample arguments (each
    bool option off and on, domain checks on and off) against a recorder, so
    the list cannot drift from the code that builds the argv.
    """
    samples = {str(value) for value in _SAMPLES.values()}
    seen: dict[tuple[str, ...], set[str]] = {}
    for words in _recorded_argvs():
        command: list[str] = []
        for word in words:
            if word.startswith("-") or word in samples:
                break
            command.append(word)
        seen.setdefault(tuple(command), set()).update(w for w in words if w.startswith("-"))
    return [Usage(command, frozenset(flags)) for command, flags in sorted(seen.items())]


def _recorded_argvs() -> Iterator[list[str]]:
    recorded: list[list[str]] = []

    def record(argv: list[str], **_kwargs: object) -> proc.Completed:
        recorded.append(list(argv[1:]))
        return proc.Completed(list(argv), 0, "", 0.0)

    real_run = proc.run
    proc.run = record  # type: ignore[assignment]
    try:
        for checks in (True, False):
            abra = Abra("abra", Path("/nonexistent/abra-dir"), domain_checks=checks)
            for name, method in inspect.getmembers(abra, inspect.ismethod):
                if name.startswith("_") or name in _NOT_CALLS:
                    continue
                parameters = inspect.signature(method).parameters
                switches = [p for p in parameters.values() if p.kind is p.KEYWORD_ONLY]
                for on in (False, True):
                    args = [_SAMPLES[p.name] for p in parameters.values() if p.kind is not p.KEYWORD_ONLY]
                    kwargs = {p.name: on for p in switches}
                    try:
                        method(*args, **kwargs)
                    except LintError:
                        pass  # the recorder prints no lint table; the argv is recorded
    finally:
        proc.run = real_run  # type: ignore[assignment]
    yield from recorded


_NOT_CALLS = {"from_config", "recipe_dir", "server_name", "env_file", "recorded_version", "set_env"}
