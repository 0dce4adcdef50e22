"""Comment triggers: which pull-request comments start a build, and in which mode.

Pure: no I/O. A comment triggers only when, after trimming surrounding ASCII
whitespace (space, tab, CR, LF, FF, VT: what a forge's comment box produces),
it is exactly `!testme` (a cold run) or `!testme --quick` (a quick run).
Everything else triggers nothing: other words, extra spaces between the
words, other case, look-alike characters and Unicode spaces. Being exact is
the point (as in Prow and bors): a comment that quotes the command, or says
more than it, must not start a build that runs someone's code.
"""

from __future__ import annotations

from ccci.pure.results import Mode

COMMANDS: dict[str, Mode] = {
    "!testme": Mode.COLD,
    "!testme --quick": Mode.QUICK,
}

# Only what a text box adds around a command; Unicode spaces (NBSP, U+2003,
# zero-width characters) are not trimmed, so they make a comment a non-command.
SURROUNDING_SPACE = " \t\r\n\f\v"


def parse_comment(text: str) -> Mode | None:
    """The mode a comment asks for, or None when it is not a trigger command."""
    return COMMANDS.get(text.strip(SURROUNDING_SPACE))
