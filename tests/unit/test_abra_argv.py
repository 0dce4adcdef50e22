"""The abra seam builds the real abra's argv, under a pty, with the run's ABRA_DIR.

`proc.run` is the one process seam; here it is replaced by a recorder so the
exact argv can be asserted (the real abra runs in tests/integration).
"""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.seams import abra as abra_mod
from ccci.seams import proc
from ccci.seams.abra import Abra, LintError, parse_lint
from ccci.pure.names import Domain, RecipeName

D = Domain.parse("fx-w-abc123.ccci.test")
R = RecipeName.parse("fx-web")


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_run(argv, **kwargs):
        seen.append((list(argv), kwargs))
        return proc.Completed(list(argv), 0, "", 0.0)

    monkeypatch.setattr(abra_mod.proc, "run", fake_run)
    return seen


@pytest.fixture
def abra(tmp_path):
    return Abra("/opt/abra", tmp_path / "abra-dir", "default", 60)


CASES = [
    (lambda a: a.server_add_local(), ["server", "add", "--local", "--no-input"]),
    (lambda a: a.app_new(R, D, "1.0.0+1.35.0"),
     ["app", "new", "fx-web", "1.0.0+1.35.0", "--server", "default", "--domain", D.value, "--no-input", "--offline"]),
    (lambda a: a.app_new(R, D, None, chaos=True),
     ["app", "new", "fx-web", "--server", "default", "--domain", D.value, "--chaos", "--no-input", "--offline"]),
    (lambda a: a.secret_generate(D), ["app", "secret", "generate", D.value, "--all", "--no-input"]),
    (lambda a: a.deploy(D, "1.1.0+1.35.0"),
     ["app", "deploy", D.value, "1.1.0+1.35.0", "--no-input", "--offline", "--no-converge-checks"]),
    (lambda a: a.deploy(D, chaos=True, force=True),
     ["app", "deploy", D.value, "--chaos", "--force", "--no-input", "--offline", "--no-converge-checks"]),
    (lambda a: a.upgrade(D, "1.1.0+1.35.0"),
     ["app", "upgrade", D.value, "1.1.0+1.35.0", "--no-input", "--offline", "--no-converge-checks"]),
    (lambda a: a.rollback(D, "1.0.0+1.35.0"),
     ["app", "rollback", D.value, "1.0.0+1.35.0", "--no-input", "--offline", "--no-converge-checks"]),
    (lambda a: a.undeploy(D), ["app", "undeploy", D.value, "--no-input"]),
    (lambda a: a.backup_create(D), ["app", "backup", "create", D.value, "--no-input"]),
    (lambda a: a.restore(D), ["app", "restore", D.value, "--no-input"]),
    (lambda a: a.volume_remove(D), ["app", "volume", "remove", D.value, "--force", "--no-input"]),
    (lambda a: a.secret_remove(D), ["app", "secret", "remove", D.value, "--all", "--no-input"]),
    (lambda a: a.remove(D), ["app", "remove", D.value, "--force", "--no-input"]),
]


@pytest.mark.parametrize(("call", "words"), CASES)
def test_each_call_is_the_real_abras_argv_under_a_pty(calls, abra, call, words):
    call(abra)
    (argv, kwargs), = calls
    assert argv == ["/opt/abra", *words]
    assert kwargs["tty"] is True
    assert kwargs["env"] == {"ABRA_DIR": str(abra.abra_dir)}
    assert kwargs["timeout"] == 60


def test_secret_generation_output_is_never_kept(calls, abra):
    abra.secret_generate(D)
    assert calls[0][1]["secret_output"] is True
    abra.deploy(D, "1.0.0+1.35.0")
    assert calls[1][1]["secret_output"] is False


def test_files_abra_keeps(abra, tmp_path):
    assert abra.recipe_dir(R) == tmp_path / "abra-dir/recipes/fx-web"
    env = abra.env_file(D)
    assert env == tmp_path / f"abra-dir/servers/default/{D.value}.env"
    assert abra.recorded_version(D) is None
    env.parent.mkdir(parents=True)
    env.write_text("# comment\nDOMAIN=x\nTYPE=fx-web:1.1.0+1.35.0\n")
    assert abra.recorded_version(D) == "1.1.0+1.35.0"


LINT = """\
┌──────┬────────────────────────────────────────┬──────────┬───────────┬─────────┬─────────────────┐
│ REF  │ RULE                                   │ SEVERITY │ SATISFIED │ SKIPPED │ RESOLVE         │
├──────┼────────────────────────────────────────┼──────────┼───────────┼─────────┼─────────────────┤
│ R001 │ compose config has expected version    │ error    │ ✅        │ ❌      │                 │
│ R002 │ healthcheck enabled for all services   │ warning  │ ❌        │ ❌      │ add healthcheck │
│ R009 │ environment values are strings         │ error    │ ❌        │ ❌      │ quote them      │
│ R010 │ image tags are pinned                  │ error    │ ❌        │ ✅      │                 │
└──────┴────────────────────────────────────────┴──────────┴───────────┴─────────┴─────────────────┘
WARN critical errors present in fx-web config
"""


def test_lint_table_failures_of_error_rules_are_errors_even_though_abra_exits_0():
    report = parse_lint(LINT)
    assert [r.ref for r in report.rules] == ["R001", "R002", "R009", "R010"]
    assert [r.ref for r in report.errors] == ["R009"]  # warnings and skipped rules are not errors


def test_lint_with_colours_and_ascii_borders_still_parses():
    coloured = "\x1b[1m| REF | RULE | SEVERITY | SATISFIED | SKIPPED |\x1b[0m\r\n| R001 | x | error | no | no |\n"
    assert [r.ref for r in parse_lint(coloured).errors] == ["R001"]


def test_lint_output_without_a_table_is_an_error():
    with pytest.raises(LintError, match="no lint table"):
        parse_lint("FATA unable to find recipe fx-web\n")


# -- exact or closed (issue 11, class 3) ----------------------------------------------

def _standin_box_table():
    """The stand-in abra's own table renderer (tests/bed/abra-standin), loaded without running it."""
    path = Path(__file__).parents[1] / "bed" / "abra-standin"
    loader = importlib.machinery.SourceFileLoader("abra_standin", str(path))
    spec = importlib.util.spec_from_loader("abra_standin", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.box_table


box_table = _standin_box_table()
HEADER = ("REF", "RULE", "SEVERITY", "SATISFIED", "SKIPPED", "RESOLVE")
YES_NO = {True: "✅", False: "❌"}


def ascii_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    line = lambda cells: "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths)) + "|"  # noqa: E731
    return "\n".join([border, line(header), border, *map(line, rows), border])


plain = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="│|\n\r\x1b"), max_size=30)
rules = st.lists(
    st.tuples(st.from_regex(r"R0[0-9]{2}", fullmatch=True), plain.map(str.strip).filter(bool),
              st.sampled_from(["error", "warning"]), st.booleans(), st.booleans(), plain.map(str.strip)),
    min_size=1, max_size=8,
)


def rows_of(drawn):
    return [(ref, rule, sev, YES_NO[ok], YES_NO[skip], res) for ref, rule, sev, ok, skip, res in drawn]


@given(rules, st.sampled_from(["box", "ascii"]))
def test_generated_tables_read_back_exactly(drawn, style):
    render = box_table if style == "box" else ascii_table
    report = parse_lint("INFO linting\n" + render(HEADER, rows_of(drawn)) + "\nWARN done\n")
    assert [(r.ref, r.rule, r.severity, r.satisfied, r.skipped) for r in report.rules] == \
        [(ref, rule, sev, ok, skip) for ref, rule, sev, ok, skip, _ in drawn]
    assert [r.ref for r in report.errors] == [ref for ref, _, sev, ok, skip, _ in drawn
                                              if sev == "error" and not ok and not skip]


@given(rules, st.data(), st.sampled_from(["box", "ascii"]))
def test_a_cell_holding_the_separator_fails_closed(drawn, data, style):
    bar = "│" if style == "box" else "|"
    at = data.draw(st.integers(0, len(drawn) - 1))
    column = data.draw(st.sampled_from([1, 5]))  # RULE or RESOLVE: free text
    rows = rows_of(drawn)
    row = list(rows[at])
    row[column] = data.draw(plain) + bar + data.draw(plain)
    rows[at] = tuple(row)
    render = box_table if style == "box" else ascii_table
    with pytest.raises(LintError, match="cannot read abra's lint table") as caught:
        parse_lint(render(HEADER, rows))
    assert bar in caught.value.output  # the raw table goes with the error


def test_the_issue_example_a_failing_error_rule_cannot_disappear():
    table = box_table(HEADER, [("R001", "ok", "error", "✅", "❌", ""),
                               ("R009", "env values | quoted", "error", "❌", "❌", "quote them")])
    # the old parser read "│" and "|" alike, skipped the row, and the install went on
    with pytest.raises(LintError, match="cannot read abra's lint table"):
        parse_lint(table.replace("|", "│"))
    assert [r.ref for r in parse_lint(table).errors] == ["R009"]  # an ASCII bar in a box table is text


@pytest.mark.parametrize(("table", "why"), [
    (LINT.replace("❌        │ ❌      │ quote them", "maybe     │ ❌      │ quote them"), "neither yes nor no"),
    (LINT.replace("error    │ ❌        │ ❌      │ quote", "fatal    │ ❌        │ ❌      │ quote"), "unknown severity"),
    (LINT.replace("├──────┼", "╞══════╪"), "neither a border nor a row"),
    (LINT.replace("│ R002", "  R002"), "neither a border nor a row"),
    (LINT.replace("│ R002 │", "│ R002 │ extra │"), "cells"),
    (LINT.replace("SATISFIED", "OK       "), "lacks"),
    (LINT.replace("│ R009", "\n│ R009"), "blank"),
    ("| REF | RULE | SEVERITY | SATISFIED |\n|-----|------|----------|-----------|\n| R1 | x | error | no |\n",
     "unknown severity"),  # a markdown table: a style ccci does not know
    ("┌─┐\n└─┘\n", "no header"),
])
def test_a_table_not_fully_understood_fails_closed(table, why):
    with pytest.raises(LintError, match=why) as caught:
        parse_lint(table)
    assert caught.value.output == table and "cannot read abra's lint table" in str(caught.value)


@given(st.text(max_size=300))
def test_any_output_is_a_report_or_a_lint_error(text):
    try:
        report = parse_lint(text)
    except LintError as error:
        assert error.output == text
    else:
        assert report.rules


def test_lint_runs_the_real_abras_argv(calls, abra):
    def table_run(argv, **kwargs):
        calls.append(list(argv))
        return proc.Completed(list(argv), 0, LINT, 0.0)

    import ccci.seams.abra

    ccci.seams.abra.proc.run = table_run  # restored by monkeypatch at teardown (same attribute)
    report = abra.lint(R)
    assert calls[-1] == ["/opt/abra", "recipe", "lint", "fx-web", "--no-input", "--offline"]
    assert len(report.errors) == 1


# -- issue 12: the calls follow the evidence ------------------------------------------

DEPLOYING = [
    lambda a: a.deploy(D, "1.1.0+1.35.0"),
    lambda a: a.deploy(D, chaos=True, force=True),
    lambda a: a.upgrade(D, "1.1.0+1.35.0"),
    lambda a: a.rollback(D, "1.0.0+1.35.0"),
]


@pytest.mark.parametrize("call", DEPLOYING)
def test_every_deploying_call_skips_domain_checks_only_when_the_config_says_so(calls, tmp_path, call):
    checked = Abra("/opt/abra", tmp_path, "default", 60)
    unchecked = Abra("/opt/abra", tmp_path, "default", 60, domain_checks=False)
    call(checked)
    call(unchecked)
    assert "--no-domain-checks" not in calls[0][0]
    assert calls[1][0] == [*calls[0][0], "--no-domain-checks"]


def test_the_config_setting_reaches_the_seam(tmp_path):
    from ccci.pure import config as config_mod

    config = config_mod.parse({"base_domain": "ccci.test", "domain_checks": False})
    abra = Abra.from_config(config, tmp_path, proc.Calls())
    assert abra.domain_checks is False
    assert config_mod.parse({"base_domain": "ccci.test"}).domain_checks is True


def test_every_call_that_could_prompt_says_no_input():
    for usage in abra_mod.usages():
        assert "--no-input" in usage.flags, usage.command


def test_the_contract_list_is_derived_from_the_calls():
    commands = {" ".join(u.command): u.flags for u in abra_mod.usages()}
    assert commands["app rollback"] >= {"--no-domain-checks", "--no-converge-checks"}
    assert commands["app new"] >= {"--server", "--domain", "--chaos"}
    assert set(commands) >= {"server add", "recipe lint", "app deploy", "app upgrade", "app restore"}


@given(st.sampled_from(["default", "local", "server.example", "127.0.0.1"]),
       st.booleans())
def test_the_server_is_read_back_from_abra_dir(tmp_path_factory, created, configured_exists):
    root = tmp_path_factory.mktemp("abra-dir")
    (root / "servers" / created).mkdir(parents=True)
    abra = Abra("/opt/abra", root, "default" if not configured_exists else created)
    assert abra.server_name() == created
    assert abra.env_file(D) == root / "servers" / created / f"{D.value}.env"


def test_the_server_name_is_ambiguous_only_with_several_unknown_servers(tmp_path):
    abra = Abra("/opt/abra", tmp_path, "default")
    assert abra.server_name() == "default"  # nothing added yet: the configured name
    for name in ("a", "b"):
        (tmp_path / "servers" / name).mkdir(parents=True)
    with pytest.raises(abra_mod.ServerUnknown, match="none of them"):
        abra.server_name()
    (tmp_path / "servers" / "default").mkdir()
    assert abra.server_name() == "default"


def test_app_new_names_the_server_abra_created(calls, tmp_path):
    (tmp_path / "servers" / "local").mkdir(parents=True)
    Abra("/opt/abra", tmp_path, "default").app_new(R, D, "1.0.0+1.35.0")
    argv = calls[0][0]
    assert argv[argv.index("--server") + 1] == "local"


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=10), max_size=5),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20),
       st.one_of(st.integers(min_value=-5, max_value=10**6).map(str), st.text(max_size=6)))
def test_the_declared_timeout_is_a_positive_integer_or_nothing(labels, stack, value):
    labels = {**labels, f"coop-cloud.{stack}.timeout": value}
    got = abra_mod.declared_timeout(labels, stack)
    if value.strip().isascii() and value.strip().isdigit() and int(value.strip()) > 0:
        assert got == int(value.strip())
    else:
        assert got is None
    assert abra_mod.declared_timeout({f"coop-cloud.{stack}x.timeout": "30"}, stack) is None  # another stack's
    assert abra_mod.declared_timeout({}, stack) is None
