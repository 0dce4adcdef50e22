"""The canonical's record around a snapshot by hand: what is refused before any volume is read.

No engine: every refusal here comes before the first Docker call (the client is None).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.capabilities.canonical import Canonical, Record, SnapshotAction, Use, Volumes, snapshot_by_hand
from ccci.entry import snapshot as entry
from ccci.pure.config import Config
from ccci.pure.names import BadInput, RecipeName

RECIPE = RecipeName("fx-web")


def canonical_with(tmp_path, **fields) -> tuple[Config, Canonical]:
    config = Config(base_domain="ci.test", recipe_source="file:///r/{recipe}", state_dir=str(tmp_path / "state"))
    canonical = Canonical(config, RECIPE, None)  # type: ignore[arg-type]
    canonical.write(Record(recipe="fx-web", domain="warm-fx-web.ci.test", version="1.0.0+1", commit="c0ffee",
                           **fields))
    return config, canonical


@settings(max_examples=20, deadline=None)
@given(status=st.sampled_from(list(Use)))
def test_a_take_over_used_volumes_is_refused_and_says_how_to_get_the_known_good_back(tmp_path_factory, status):
    tmp_path = tmp_path_factory.mktemp("used")
    config, canonical = canonical_with(tmp_path, status=status, volumes=Volumes.USED)
    before = canonical.record_path.read_bytes()
    with pytest.raises(BadInput) as refused:
        snapshot_by_hand(config, RECIPE, None, SnapshotAction.TAKE)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "'used'" in message and "ccci-snapshot restore fx-web" in message
    assert "--accept-used-volumes" in message and "\n" not in message
    assert canonical.record_path.read_bytes() == before  # nothing changed
    assert not (canonical.dir / "snapshot").exists()


def test_without_a_record_a_take_is_refused(tmp_path):
    config = Config(base_domain="ci.test", recipe_source="file:///r/{recipe}", state_dir=str(tmp_path / "state"))
    with pytest.raises(BadInput, match="no canonical record"):
        snapshot_by_hand(config, RECIPE, None, SnapshotAction.TAKE)  # type: ignore[arg-type]


def test_the_flag_belongs_to_take_only(capsys):
    assert entry.main(["restore", "fx-web", "--accept-used-volumes"]) == 2
    assert capsys.readouterr().err.strip() == "ccci-snapshot: --accept-used-volumes is only for take"


@settings(max_examples=30, deadline=None)
@given(status=st.sampled_from(list(Use)), volumes=st.sampled_from(list(Volumes)),
       new_status=st.sampled_from([None, *Use]), new_volumes=st.sampled_from([None, *Volumes]))
def test_a_mark_that_changes_nothing_leaves_the_record_byte_for_byte(tmp_path_factory, status, volumes,
                                                                     new_status, new_volumes):
    tmp_path = tmp_path_factory.mktemp("mark")
    _, canonical = canonical_with(tmp_path, status=status, volumes=volumes)
    data = json.loads(canonical.record_path.read_text())
    data["updated"] = "2000-01-01T00:00:00Z"  # a time a new write could never produce
    canonical.record_path.write_text(json.dumps(data))
    before = canonical.record_path.read_bytes()
    marked = canonical.mark(status=new_status, volumes=new_volumes)
    after = json.loads(canonical.record_path.read_text())
    expected = (new_status or status, new_volumes or volumes)
    assert (marked.status, marked.volumes) == expected
    assert (after["status"], after["volumes"]) == (expected[0].value, expected[1].value)
    if expected == (status, volumes):
        assert canonical.record_path.read_bytes() == before
    else:
        assert after["updated"] != "2000-01-01T00:00:00Z"
