"""Trigger parsing: exactly `!testme` or `!testme --quick`, nothing else."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ccci.pure import trigger
from ccci.pure.results import Mode

EXACT = {"!testme": Mode.COLD, "!testme --quick": Mode.QUICK}
# Written by hand, not taken from ccci.pure.trigger: what a comment box adds
# around a command (trimmed) and what only looks like space (not trimmed).
TRIMMED = [" ", "\t", "\r", "\n", "\x0c", "\x0b"]
NOT_TRIMMED = ["\u00a0", "\u2003", "\u200b", "\u3000", "\x85", "\x1c", "\x1d", "\x1e", "\x1f",
               "\u2028", "\u2029", "\ufeff", "\u180e", "\u2060"]
ascii_space = st.text(alphabet=TRIMMED, max_size=6)


def expected(text: str) -> Mode | None:
    """The oracle: a command with only TRIMMED characters before and after it."""
    for command in ("!testme --quick", "!testme"):
        at = text.find(command)
        rest = text[:at] + text[at + len(command):] if at >= 0 else None
        if rest is not None and all(char in TRIMMED for char in rest):
            return EXACT[command]
    return None


@pytest.mark.parametrize(("text", "mode"), [
    ("!testme", Mode.COLD),
    ("!testme --quick", Mode.QUICK),
    ("  !testme\n", Mode.COLD),
    ("\r\n\t!testme --quick \r\n", Mode.QUICK),
])
def test_exact_commands_trigger_with_their_mode(text, mode):
    assert trigger.parse_comment(text) is mode


# The list from issue 7, plus the near-misses people actually type.
@pytest.mark.parametrize("text", [
    "!testmexyz", "!testme foo", "!testme  --quick", "!testme --quickx", "please !testme",
    "!testme --quick extra", "", " ", "!TESTME", "!Testme", "testme", "! testme", "!testme --Quick",
    "!testme -quick", "!testme —quick", "!testme --quick --quick", "!testme\n--quick",
    "!testme\t--quick", "> !testme", "`!testme`", "!testme.", "!testme\u00a0", "\u200b!testme",
    "!testme\u3000--quick", "！testme", "!testmе",  # fullwidth '!' and a Cyrillic 'е'
    "!testme --cold", "!testme\n\n!testme",
])
def test_everything_else_triggers_nothing(text):
    assert trigger.parse_comment(text) is None


@given(st.sampled_from(sorted(EXACT)), ascii_space, ascii_space)
def test_surrounding_ascii_whitespace_is_trimmed(command, before, after):
    assert trigger.parse_comment(before + command + after) is EXACT[command]


@given(st.sampled_from(sorted(EXACT)), ascii_space, ascii_space, st.sampled_from(NOT_TRIMMED), st.booleans())
def test_a_space_look_alike_next_to_a_command_makes_it_no_command(command, before, after, odd, at_end):
    text = before + command + odd + after if at_end else before + odd + command + after
    assert trigger.parse_comment(text) is None


@given(st.text() | st.builds(lambda a, c, b: a + c + b, st.text(TRIMMED + NOT_TRIMMED, max_size=4),
                             st.sampled_from(sorted(EXACT)), st.text(TRIMMED + NOT_TRIMMED, max_size=4)))
@example("!testme --quick\u00a0")
@example("\u2003!testme")
def test_a_comment_triggers_only_if_it_is_a_command_after_trimming(text):
    assert trigger.parse_comment(text) is expected(text)


def _edits(command: str):
    """Every one-character deletion, insertion, substitution and case flip."""
    alphabet = st.sampled_from(list("!testmquick- xX\u00a0\u200b\t") + ["—", "Q", "е"])
    position = st.integers(min_value=0, max_value=len(command))

    @st.composite
    def edited(draw):
        at = draw(position)
        kind = draw(st.sampled_from(["delete", "insert", "replace", "flip"]))
        char = draw(alphabet)
        if kind == "delete" and at < len(command):
            return command[:at] + command[at + 1:]
        if kind == "insert":
            return command[:at] + char + command[at:]
        if kind == "replace" and at < len(command):
            return command[:at] + char + command[at + 1:]
        if kind == "flip" and at < len(command):
            return command[:at] + command[at].swapcase() + command[at + 1:]
        return command + char

    return edited()


@given(st.sampled_from(sorted(EXACT)).flatmap(_edits), ascii_space, ascii_space)
def test_generated_near_misses_trigger_nothing(near_miss, before, after):
    text = before + near_miss + after
    # An edit can land back on a command (e.g. inserting a trailing space): then it is one.
    assert trigger.parse_comment(text) is expected(text)
    if expected(near_miss) is None:
        assert trigger.parse_comment(text) is None


@given(st.sampled_from(sorted(EXACT)), st.text(min_size=1).filter(lambda s: any(c not in TRIMMED for c in s)))
@example("!testme", "--quick")
def test_a_command_with_any_words_around_it_triggers_nothing(command, words):
    longer = command + " " + words
    # "!testme" + " --quick" is the other command, not a command with words
    assert trigger.parse_comment(longer) is expected(longer)
    if expected(longer) is None:
        assert trigger.parse_comment(longer) is None
    assert trigger.parse_comment(words + " " + command) is None
