# Sourced by tests/bed/gitea/{start,stop}: where the bed's Gitea lives, as
# whom it runs, and how to tell that a process is ours (not a reused pid).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../service.sh"
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
running() { service_pid "$gt/gitea.pid" "--config $gt/app.ini"; }
answers() { http_ok "$probe"; }
