"""tests/abra-contract: the calls ccci makes, checked against an abra's own --help.

Runs against the stand-in (no swarm needed: --help, server add, recipe lint),
and against a copy of it that drops one flag, which must fail with a table.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "tests" / "abra-contract"
STANDIN = REPO / "tests" / "bed" / "abra-standin"


def contract(binary):
    return subprocess.run([sys.executable, str(CONTRACT), str(binary)], capture_output=True, text=True, timeout=300)


def test_the_stand_in_meets_every_call_ccci_makes():
    done = contract(STANDIN)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = done.stdout.splitlines()[3:-1]
    assert rows and all(" MATCH" in row for row in rows)
    assert done.stdout.rstrip().endswith(f"{len(rows)} MATCH, 0 MISMATCH")
    for call in ("app rollback", "server add --local", "recipe lint fx-web"):
        assert f"\n{call} " in done.stdout


def test_a_stand_in_without_one_flag_fails_with_a_clear_table(tmp_path):
    source = STANDIN.read_text()
    dropped = source.replace('"-D": "no_domain_checks", "--no-domain-checks": "no_domain_checks",', "")
    assert dropped != source
    broken = tmp_path / "abra-without-D"
    broken.write_text(dropped)
    broken.chmod(0o755)
    done = contract(broken)
    assert done.returncode == 1, done.stdout + done.stderr
    mismatches = [line.split() for line in done.stdout.splitlines()[3:-1] if "MISMATCH" in line.split()]
    assert sorted((words[0], words[1], words[2]) for words in mismatches) == [
        ("app", "deploy", "--no-domain-checks"),
        ("app", "rollback", "--no-domain-checks"),
        ("app", "upgrade", "--no-domain-checks"),
    ]
    assert done.stdout.rstrip().endswith("3 MISMATCH")


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    done = contract(tmp_path / "no-such-abra")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "is not an executable" in done.stderr
