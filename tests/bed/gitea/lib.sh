# Sourced by tests/bed/gitea/{start,stop}: where the bed's Gitea lives, as
# whom it runs, and how to tell that a process is ours (not a reused pid).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bed=${CCCI_TESTBED:-/var/lib/ccci-testbed}
version=v1.24.6
port=${CCCI_GITEA_PORT:-13000}
# Gitea refuses to run as root: a system user, made by `start` when missing.
user=ccci-gitea
gt="$bed/gitea"
url="http://127.0.0.1:$port"
probe="$url/api/v1/version"
say() { echo "gitea: $*" >&2; }

# The pid of this bed's Gitea when it runs, else nothing (exit 1).
running() {
  local pid
  pid=$(cat "$gt/gitea.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--config $gt/app.ini" || return 1
  echo "$pid"
}

answers() { python3 - "$probe" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}
