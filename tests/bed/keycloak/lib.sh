# Sourced by tests/bed/keycloak/{start,stop}: where the bed's Keycloak lives
# and how to tell that a process is ours (not a reused pid).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bed=${CCCI_TESTBED:-/var/lib/ccci-testbed}
version=$(cat "$here/version")
port=${CCCI_KEYCLOAK_PORT:-18080}
mport=$((port + 10))
kc="$bed/keycloak"
dist="$kc/dist/keycloak-$version"
url="http://127.0.0.1:$port"
probe="$url/realms/master/.well-known/openid-configuration"
say() { echo "keycloak: $*" >&2; }

# The pid of this bed's Keycloak when it runs, else nothing (exit 1).
running() {
  local pid
  pid=$(cat "$kc/keycloak.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Dkc.home.dir=$kc/dist/" || return 1
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
