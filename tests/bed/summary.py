"""One line about a ccci result JSON read from stdin (for tests/bed/demo)."""

import json
import sys

r = json.load(sys.stdin)
line = f"{r['mode']} run of {r['recipe']} {r['to_version']}: {r['status'].upper()} in {r['seconds']:.0f}s; "
line += ", ".join(f"{s['name']} {s['status']}" for s in r["stages"])
for extra in ("promotion", "note", "reason"):
    if r.get(extra):
        line += f"; {r[extra]}"
print(line)
sys.exit(0 if r["status"] == "passed" else 1)
