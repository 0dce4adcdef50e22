# Sourced by the bed's on-demand servers' scripts (keycloak/, gitea/): how to
# tell that a pid file's process is ours (not a reused pid), and whether a
# URL answers 200.
# shellcheck shell=bash

# The pid in PIDFILE when that process runs and its command line contains
# MARKER, else nothing (exit 1).
service_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}

# Exit 0 when URL answers 200 within 3 s.
http_ok() { python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}
