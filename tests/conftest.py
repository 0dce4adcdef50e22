"""Fixture plugins, one module each (see tests/fixtures/)."""

pytest_plugins = [
    "tests.fixtures.bridge", "tests.fixtures.gitea", "tests.fixtures.testbed", "tests.fixtures.volumes",
    "tests.fixtures.warm", "tests.fixtures.keycloak", "tests.fixtures.infra", "tests.fixtures.production",
]
