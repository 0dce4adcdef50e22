"""backupbot's labels as real recipes declare them, read into a backup plan (pure)."""

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.pure import backupbot
from ccci.pure.backupbot import BadLabels, Location, Service, plan

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8).filter(lambda n: n[0] != "-")
SEGMENTS = st.lists(st.sampled_from(["a", "b", "backup.sql", "data", ".", "", "x y"]), min_size=1, max_size=3)


def test_a_postgres_recipe_as_the_issue_quotes_it():
    """The app carries only backupbot.backup=true; the db dumps to backup.sql in its volume."""
    got = plan([
        Service("app", {"backupbot.backup": "true"}),
        Service("db", {
            "backupbot.backup": "true",
            "backupbot.backup.pre-hook": "/pg_backup.sh backup",
            "backupbot.backup.volumes.db-data.path": "backup.sql",
            "backupbot.restore.post-hook": "/pg_backup.sh restore",
        }, {"db-data": "/var/lib/postgresql/data"}),
    ])
    assert got.locations == (Location("db", "/var/lib/postgresql/data/backup.sql", "db-data", False),)
    (hooks,) = got.hooks
    assert (hooks.service, hooks.backup_pre, hooks.restore_post) == ("db", "/pg_backup.sh backup", "/pg_backup.sh restore")
    assert got.marker_candidates() == got.locations  # a dump only: no whole directory for a marker


def test_the_older_path_label_stays_supported():
    got = plan([Service("app", {"backupbot.backup": "true", "backupbot.backup.path": "/data, /etc/x"},
                        {"content": "/data"})])
    assert [(loc.path, loc.whole) for loc in got.locations] == [("/data", True), ("/etc/x", True)]


@st.composite
def stacks(draw):
    volumes = draw(st.lists(NAMES, unique=True, max_size=4))
    services = []
    for name in draw(st.lists(NAMES, unique=True, min_size=1, max_size=3)):
        mine = draw(st.lists(st.sampled_from(volumes), unique=True)) if volumes else []
        labels = {}
        if draw(st.booleans()):
            labels["backupbot.backup"] = draw(st.sampled_from(["true", "True", "TRUE", "false", "yes", ""]))
        for volume in mine:
            choice = draw(st.sampled_from(["whole", "excluded", "paths"]))
            if choice == "excluded":
                labels[f"backupbot.backup.volumes.{volume}"] = "false"
            elif choice == "paths":
                paths = draw(st.lists(SEGMENTS.map("/".join), min_size=1, max_size=3))
                labels[f"backupbot.backup.volumes.{volume}.path"] = ",".join(paths)
        for hook in draw(st.lists(st.sampled_from(sorted(backupbot.HOOKS.values())), unique=True)):
            labels[hook] = f"/hook {hook}"
        mounts = {volume: f"/mnt/{name}/{volume}" for volume in mine}
        services.append(Service(name, labels, mounts))
    return services


@given(stacks(), st.randoms())
def test_the_plan_follows_the_specification(services, rnd):
    enabled = any(s.labels.get("backupbot.backup", "").lower() == "true" for s in services)
    got = plan(services)
    if not enabled:
        assert got == plan([]) and not got.enabled
        return
    excluded = {key.rsplit(".", 1)[-1] for s in services for key, value in s.labels.items()
                if key.startswith("backupbot.backup.volumes.") and not key.endswith(".path") and value == "false"}
    for service in services:
        for volume, target in service.mounts.items():
            here = [loc for loc in got.locations if loc.service == service.name and loc.volume == volume]
            if volume in excluded:
                assert here == []  # an excluded volume is never backed up
                continue
            assert here, f"{volume} of {service.name} is not backed up"
            for loc in here:  # every location lies inside its volume's mount
                assert loc.path == target or loc.path.startswith(target + "/")
                assert posixpath.normpath(loc.path) == loc.path
            listed = service_paths(services, volume)
            assert all(loc.whole for loc in here) == (not listed)
    hooked = {h.service for h in got.hooks}
    assert hooked == {s.name for s in services if any(s.labels.get(label) for label in backupbot.HOOKS.values())}
    shuffled = list(services)
    rnd.shuffle(shuffled)
    assert plan(shuffled) == got  # the order services are listed in does not matter
    assert [loc.whole for loc in got.marker_candidates()] == sorted(
        (loc.whole for loc in got.locations), reverse=True
    )


def service_paths(services, volume):
    key = f"backupbot.backup.volumes.{volume}.path"
    return [p for s in services for p in s.labels.get(key, "").split(",") if p.strip()]


@given(st.lists(st.sampled_from(["a", "..", "b", "."]), min_size=1, max_size=4).filter(lambda p: ".." in p))
def test_a_path_that_climbs_out_of_its_volume_is_refused(parts):
    labels = {"backupbot.backup": "true", "backupbot.backup.volumes.data.path": "/".join(parts)}
    with pytest.raises(BadLabels, match="leaves the volume"):
        plan([Service("app", labels, {"data": "/data"})])


def test_a_relative_legacy_path_is_refused():
    with pytest.raises(BadLabels, match="absolute"):
        plan([Service("app", {"backupbot.backup": "true", "backupbot.backup.path": "data"})])
