"""The abra seam: the one place ccci calls the `abra` CLI.

Each method builds the argv the real abra takes and runs it through `proc`
under a pseudo-terminal, with this run's own ABRA_DIR (runs that share
~/.abra/recipes deploy each other's trees). Calls are offline: ccci puts the
recipe checkout into ABRA_DIR itself, so abra never fetches. `-c` skips abra's
own convergence wait, which misreports on slow hosts; ccci checks convergence
with the Engine API instead. `recipe lint` exits 0 even when an error rule
fails, so its table is parsed.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from ccci.seams import proc
from ccci.pure.names import Domain, RecipeName

NO_INPUT = "--no-input"
OFFLINE = "--offline"
NO_CONVERGE = "--no-converge-checks"


class LintError(proc.CommandError):
    """`abra recipe lint` printed something that is not its rule table."""


@attrs.frozen
class LintRule:
    ref: str
    rule: str
    severity: str
    satisfied: bool
    skipped: bool

    @property
    def is_error(self) -> bool:
        return self.severity.lower() == "error" and not self.satisfied and not self.skipped


@attrs.frozen
class LintReport:
    rules: tuple[LintRule, ...]

    @property
    def errors(self) -> tuple[LintRule, ...]:
        return tuple(rule for rule in self.rules if rule.is_error)


_YES = {"✅", "yes", "true", "✓", "y"}


def parse_lint(output: str, argv: list[str] | None = None) -> LintReport:
    """Read abra's lint table: the header names the columns, rows follow."""
    header: list[str] | None = None
    rules: list[LintRule] = []
    for line in proc.clean(output).splitlines():
        if "│" not in line and "|" not in line:
            continue
        cells = [cell.strip() for cell in line.replace("|", "│").strip().strip("│").split("│")]
        if header is None:
            upper = [cell.upper() for cell in cells]
            if "RULE" in upper and "SATISFIED" in upper and "SEVERITY" in upper:
                header = upper
            continue
        if len(cells) != len(header) or not any(cells):
            continue
        row = dict(zip(header, cells, strict=True))
        rules.append(
            LintRule(
                ref=row.get("REF", ""),
                rule=row["RULE"],
                severity=row["SEVERITY"],
                satisfied=row["SATISFIED"].lower() in _YES,
                skipped=row.get("SKIPPED", "").lower() in _YES,
            )
        )
    if header is None or not rules:
        raise LintError(argv or ["abra", "recipe", "lint"], 0, output, "no lint table in output")
    return LintReport(tuple(rules))


@attrs.frozen
class Abra:
    binary: str
    abra_dir: Path
    server: str = "default"
    timeout: float = 900
    calls: proc.Calls = attrs.field(factory=proc.Calls)

    # -- files abra keeps ------------------------------------------------------

    def recipe_dir(self, recipe: RecipeName) -> Path:
        return self.abra_dir / "recipes" / recipe.value

    def env_file(self, domain: Domain) -> Path:
        return self.abra_dir / "servers" / self.server / f"{domain.value}.env"

    def recorded_version(self, domain: Domain) -> str | None:
        """The version abra recorded as `TYPE=<recipe>:<version>` at deploy."""
        try:
            lines = self.env_file(domain).read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            key, _, value = line.partition("=")
            if key.strip() == "TYPE" and ":" in value:
                return value.split(":", 1)[1].strip()
        return None

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

    def server_add_local(self) -> proc.Completed:
        return self._run("server", "add", "--local")

    def app_new(
        self, recipe: RecipeName, domain: Domain, version: str | None, *, chaos: bool = False
    ) -> proc.Completed:
        words = ["app", "new", recipe.value]
        if version is not None:
            words.append(version)
        words += ["--server", self.server, "--domain", domain.value]
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
        return self._run(*words, NO_INPUT, OFFLINE, NO_CONVERGE)

    def upgrade(self, domain: Domain, version: str) -> proc.Completed:
        return self._run("app", "upgrade", domain.value, version, NO_INPUT, OFFLINE, NO_CONVERGE)

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
        done = self._run("recipe", "lint", recipe.value, OFFLINE)
        return parse_lint(done.output, done.argv)
