"""The nightly sweep's reading of its children: their results and exit codes, with the writers' own functions."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ccci.jobs.nightly import NO_OUTCOME, InfraOutcome, NightlyResult, RecipeOutcome, RecipeStatus, SweepStatus, \
    infra_outcome, recipe_outcome
from ccci.pure import results
from ccci.pure.plan import EXIT_CODES, ExitCode, Outcome, ReconcileResult, went_wrong
from ccci.pure.results import Mode, RunResult, Status


@given(st.sampled_from(Outcome), st.text(max_size=40))
def test_an_infra_outcome_is_what_the_reconcile_printed(outcome, reason):
    printed = ReconcileResult("proxy", "traefik", "proxy.ci.test", outcome, reason=reason).to_json()
    read = infra_outcome("proxy", int(outcome.exit_code), printed)
    assert read == InfraOutcome("proxy", outcome.exit_code, outcome.value, reason)


def test_a_reconcile_that_printed_no_result_is_an_error():
    assert infra_outcome("proxy", 1, "") == InfraOutcome("proxy", 1, NO_OUTCOME)
    assert infra_outcome("proxy", 1, "Traceback ...") == InfraOutcome("proxy", 1, NO_OUTCOME)


def test_the_sweep_fails_on_every_exit_code_but_done_and_held():
    # By hand, from docs/reconcile.md: 0 done, 3 held (alerted on its own) are not failures.
    table = {0: False, 1: True, 2: True, 3: False, 4: True, 5: True, 6: True, 130: True, 143: True, None: True}
    assert {code: went_wrong(code) for code in table} == table
    assert {o for o in Outcome if not went_wrong(EXIT_CODES[o])} == {
        Outcome.NOOP_HEALTHY, Outcome.INSTALLED, Outcome.UPGRADED,
        Outcome.HELD_MAJOR, Outcome.HELD_MANUAL_MIGRATION, Outcome.HELD_UNPARSEABLE}
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5, 6]


def run_result(status: Status, **more) -> RunResult:
    return RunResult("fx-web", None, Mode.COLD, "3fa9c1", "fx-w-3fa9c1.ci.test", "fx-w-3fa9c1_ci_test",
                     status=status, seconds=42.5, **more)


def test_a_cold_run_is_read_from_the_result_file_its_writer_wrote():
    green = results.to_json(run_result(Status.PASSED, promotion="promoted 1.1.0+1.35.0", artifacts="/a"))
    assert recipe_outcome("fx-web", 0, 50.0, green) == RecipeOutcome(
        "fx-web", RecipeStatus.PASSED, 42.5, "", "promoted 1.1.0+1.35.0", "/a")
    red = results.to_json(run_result(Status.FAILED, reason="install: No such image"))
    assert recipe_outcome("fx-web", 1, 50.0, red).status is RecipeStatus.FAILED
    # A green result with a red exit (e.g. the promotion failed) is red.
    assert recipe_outcome("fx-web", 1, 50.0, green).status is RecipeStatus.FAILED


def test_a_cold_run_without_a_readable_result_is_an_error():
    for text in (None, "", "{", "[1]", "null", json.dumps({"recipe": "fx-web"})):
        outcome = recipe_outcome("fx-web", 1, 7.0, text, "line 1\nccci-run: boom\n")
        assert outcome.status is RecipeStatus.ERROR and outcome.seconds == 7.0
        assert outcome.reason == "ccci-run exited 1: ['ccci-run: boom']"


def test_the_summary_keeps_its_field_names_and_plain_values():
    summary = NightlyResult("20250101T030000Z", SweepStatus.FAILED, infra=[InfraOutcome("proxy", 4, "rolled-back")],
                            recipes=[RecipeOutcome("fx-red", RecipeStatus.TIMED_OUT, 900.0)], reason="red: fx-red")
    data = json.loads(summary.to_json())
    assert set(data) == {"started", "status", "pruned", "reaped", "infra", "recipes", "reason", "folder"}
    assert data["status"] == "failed" and data["recipes"][0]["status"] == "timed-out"
    assert set(data["recipes"][0]) == {"recipe", "status", "seconds", "reason", "promotion", "artifacts"}
    assert data["infra"][0] == {"app": "proxy", "exit_code": 4, "outcome": "rolled-back", "detail": ""}
