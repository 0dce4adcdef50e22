"""Benchmark: snapshot take + restore of one volume against plain tar and restic.

    python3 bench/snapshot.py [SIZE_MIB ...]      (default: 256 1024)

For each size, builds one real named volume (many small files and a few large
ones, random content), then in the same run, cold page cache before each step
(`sync; echo 3 > /proc/sys/vm/drop_caches`, when permitted):
  tar     `tar -cf` to a file, then `tar -xf` into an empty folder
  restic  `restic backup` into a fresh local repository, then `restic restore`
  ccci    `Snapshots.take` (hash, member check, fsync, read-back verify, atomic
          swap), then `Snapshots.restore` (hash and member check while
          extracting into staging, then swap), each in its own process
Prints seconds and peak memory (max RSS of the process tree's largest
process, by GNU time: Debian package `time`) per step, and the ratio of ccci's take + restore to the faster
baseline. Aims: ratio <= 1.0; ccci's peak memory <= restic's and flat as the
volume grows.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccci.seams import engine  # noqa: E402

IMAGE_NAMESPACE = engine.NAMESPACE


def drop_caches() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def fill(root: Path, size_mib: int) -> int:
    """About a third in small files (1-16 KiB), the rest in four large ones."""
    rng = random.Random(size_mib)
    small_budget = size_mib * (1 << 20) // 3
    written = 0
    i = 0
    while written < small_budget:
        folder = root / f"d{i // 500:04d}"
        folder.mkdir(exist_ok=True)
        n = rng.randint(1024, 16384)
        (folder / f"f{i:06d}.bin").write_bytes(os.urandom(n))
        written += n
        i += 1
    large = (size_mib * (1 << 20) - written) // 4
    for j in range(4):
        with open(root / f"large{j}.bin", "wb") as out:
            left = large
            while left > 0:
                chunk = min(left, 8 << 20)
                out.write(os.urandom(chunk))
                left -= chunk
    return i + 4


def timed(argv: list[str], env: dict | None = None) -> tuple[float, int]:
    """Seconds, and peak RSS in KiB measured by GNU time (the largest process
    of argv's tree; measured from the exec, not inherited from this one)."""
    with tempfile.NamedTemporaryFile("r") as report:
        began = time.monotonic()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv],
                              env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        seconds = time.monotonic() - began
        if done.returncode != 0:
            raise SystemExit(f"{argv[:3]} failed: {done.stderr.decode()[-500:]}")
        return seconds, int(report.read().split()[-1])


CCCI_STEP = """
import sys
from pathlib import Path
from ccci.seams.engine import connect, Stack
from ccci.capabilities.snapshot import AppVolumes, Snapshots
snaps, stack, action = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
app = AppVolumes(Stack(connect(), stack))
s = Snapshots(snaps)
s.take(app, recipe="bench", version="1.0.0+x", commit="bench") if action == "take" else s.restore(app)
"""


def run_size(client, size_mib: int, work: Path) -> dict[str, tuple[float, int]]:
    stack = f"bench{size_mib}_ccci_test"
    volume = client.volumes.create(f"{stack}_data", labels={IMAGE_NAMESPACE: stack})
    try:
        mountpoint = Path(client.api.inspect_volume(volume.name)["Mountpoint"])
        files = fill(mountpoint, size_mib)
        print(f"\n{size_mib} MiB volume, {files} files", file=sys.stderr)
        out: dict[str, tuple[float, int]] = {}
        tar_file, tar_dest = work / "plain.tar", work / "plain-restore"
        tar_dest.mkdir()
        drop_caches()
        out["tar -c"] = timed(["tar", "-C", str(mountpoint), "-cf", str(tar_file), "."])
        drop_caches()
        out["tar -x"] = timed(["tar", "-C", str(tar_dest), "-xf", str(tar_file)])
        shutil.rmtree(tar_dest)
        tar_file.unlink()
        repo, restic_dest = work / "restic", work / "restic-restore"
        env = {"RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo)}
        subprocess.run(["restic", "init"], env={**os.environ, **env}, check=True, capture_output=True)
        drop_caches()
        out["restic backup"] = timed(["restic", "backup", "--quiet", str(mountpoint)], env)
        drop_caches()
        out["restic restore"] = timed(["restic", "restore", "--quiet", "latest", "--target", str(restic_dest)], env)
        shutil.rmtree(repo)
        shutil.rmtree(restic_dest)
        snaps = work / "snap"
        drop_caches()
        out["ccci take"] = timed([sys.executable, "-c", CCCI_STEP, str(snaps), stack, "take"])
        drop_caches()
        out["ccci restore"] = timed([sys.executable, "-c", CCCI_STEP, str(snaps), stack, "restore"])
        shutil.rmtree(snaps)
        return out
    finally:
        engine.Stack(client, stack).remove_leftovers()


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [256, 1024]
    client = engine.connect()
    print("page cache dropped before each step" if drop_caches() else
          "page cache could NOT be dropped (not permitted): steps may read from cache", file=sys.stderr)
    peaks = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="ccci-bench-snap-", dir="/var/tmp") as tmp:
            out = run_size(client, size, Path(tmp))
        for step, (seconds, rss) in out.items():
            print(f"{size:>5} MiB  {step:<15} {seconds:7.2f}s  peak {rss / 1024:7.1f} MiB")
        tar = out["tar -c"][0] + out["tar -x"][0]
        restic = out["restic backup"][0] + out["restic restore"][0]
        ccci = out["ccci take"][0] + out["ccci restore"][0]
        faster = min(tar, restic)
        print(f"{size:>5} MiB  take+restore: tar {tar:.2f}s, restic {restic:.2f}s, ccci {ccci:.2f}s; "
              f"ccci / faster baseline = {ccci / faster:.2f} (aim <= 1.0)")
        ccci_peak = max(out["ccci take"][1], out["ccci restore"][1])
        restic_peak = max(out["restic backup"][1], out["restic restore"][1])
        print(f"{size:>5} MiB  peak memory: ccci {ccci_peak / 1024:.1f} MiB, restic {restic_peak / 1024:.1f} MiB")
        peaks.append(ccci_peak)
    if len(peaks) > 1:
        print(f"ccci peak memory from {sizes[0]} to {sizes[-1]} MiB: x{peaks[-1] / peaks[0]:.2f} (flat is ~1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
