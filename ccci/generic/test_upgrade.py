"""Generic, upgrade stage: abra recorded the version the app was upgraded to."""

import os
from pathlib import Path


def _recorded_version() -> str:
    for line in Path(os.environ["CCCI_ENV_FILE"]).read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "TYPE" and ":" in value:
            return value.split(":", 1)[1].strip()
    raise AssertionError("the app's env file records no TYPE=<recipe>:<version>")


def test_env_file_records_the_target_version():
    # A release is recorded by its tag; a chaos deploy by its short commit.
    expected = os.environ["CCCI_VERSION"]
    assert _recorded_version().startswith(expected), (
        f"recorded {_recorded_version()!r}, expected {expected!r}"
    )
