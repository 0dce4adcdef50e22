"""The abra seam builds the real abra's argv, under a pty, with the run's ABRA_DIR.

`proc.run` is the one process seam; here it is replaced by a recorder so the
exact argv can be asserted (the real abra runs in tests/integration).
"""


import pytest

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
    (lambda a: a.server_add_local(), ["server", "add", "--local"]),
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


def test_lint_runs_the_real_abras_argv(calls, abra):
    def table_run(argv, **kwargs):
        calls.append(list(argv))
        return proc.Completed(list(argv), 0, LINT, 0.0)

    import ccci.seams.abra

    ccci.seams.abra.proc.run = table_run  # restored by monkeypatch at teardown (same attribute)
    report = abra.lint(R)
    assert calls[-1] == ["/opt/abra", "recipe", "lint", "fx-web", "--offline"]
    assert len(report.errors) == 1
