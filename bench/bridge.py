"""Benchmark: a `!testme` webhook sent → the build request arriving at Drone.

    python3 bench/bridge.py [N]        (default N=200, at most 5000)

All on 127.0.0.1 in one process: the real bridge HTTP server, and the
loopback stand-ins for the forge API and Drone from tests/fixtures/bridge.py.
Each of N signed comments (distinct ids, from a collaborator) is timed from
the moment the client starts sending to the moment the stand-in Drone reads
the build request. That path holds the signature check, the dedup claim
(fsync'd to disk), two forge calls (collaborator check, PR head) and the
Drone call. The baseline, measured in the same run, is a bare loopback HTTP
POST round trip of the same body to a server that only answers 200: the
ratio says how many bare round trips' worth of time one trigger costs.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.bridge import (  # noqa: E402
    REPO, DroneStandIn, ForgeStandIn, World, issue_comment_payload, send_webhook, sha_for,
)

WARMUP = 10


class _Bare(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def baseline(count: int, body: bytes) -> list[float]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bare)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    times = []
    try:
        for i in range(WARMUP + count):
            started = time.perf_counter()
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as reply:
                reply.read()
            if i >= WARMUP:
                times.append(time.perf_counter() - started)
    finally:
        server.shutdown()
        server.server_close()
    return times


def bridge(count: int) -> list[float]:
    forge, drone = ForgeStandIn(), DroneStandIn()
    with tempfile.TemporaryDirectory(prefix="ccci-bench-bridge-") as root:
        world = World(Path(root), forge, drone)
        forge.add_pull(3, sha_for(3))
        forge.collaborators.add((REPO, "alice"))
        server, _ = world.start()
        hook = server.url + "/hook"
        times = []
        try:
            for i in range(WARMUP + count):
                payload = json.dumps(issue_comment_payload(10_000 + i, "!testme", "alice")).encode()
                started = time.perf_counter()
                status, reply = send_webhook(hook, payload)
                if status != 202:
                    raise SystemExit(f"bench: comment {i} was not triggered: {status} {reply}")
                if i >= WARMUP:
                    times.append(drone.arrivals[-1] - started)
            if len(drone.builds) != WARMUP + count:
                raise SystemExit(f"bench: expected {WARMUP + count} builds, Drone saw {len(drone.builds)}")
        finally:
            world.stop()
            forge.stop()
            drone.stop()
    return times


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    count = int(argv[0]) if argv else 200
    if not 1 <= count <= 5000:
        print("bench: N must be 1..5000", file=sys.stderr)
        return 2
    body = json.dumps(issue_comment_payload(1, "!testme", "alice")).encode()
    base = baseline(count, body)
    trig = bridge(count)
    rows = [("bare loopback POST round trip", base), ("comment sent -> Drone build request", trig)]
    print(f"{'N=' + str(count):<38}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name, values in rows:
        print(f"{name:<38}{_quantile(values, .5) * 1e3:>9.2f}{_quantile(values, .99) * 1e3:>9.2f}"
              f"{statistics.fmean(values) * 1e3:>9.2f}")
    print(f"ratio trigger/baseline: p50 {_quantile(trig, .5) / _quantile(base, .5):.1f}x, "
          f"p99 {_quantile(trig, .99) / _quantile(base, .99):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
