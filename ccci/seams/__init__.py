"""The seams: the only places ccci talks to something outside itself.

`proc` starts every process (abra, git, tar, pytest), `abra` speaks abra's
CLI through it, `engine` is every Docker API call, `http` every HTTP call,
and `keycloak`, `forge` and `drone` are the clients built on it.
"""
