# Sourced by tests/bed/keycloak/{start,stop}: where the bed's Keycloak lives
# and how to tell that a process is ours (not a reused pid).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../service.sh"
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
running() { service_pid "$kc/keycloak.pid" "-Dkc.home.dir=$kc/dist/"; }
answers() { http_ok "$probe"; }
