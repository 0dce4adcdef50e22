"""Benchmark: snapshot take + restore of one volume against plain tar and restic.

    python3 bench/snapshot.py [--rounds N] [--no-restic] [SIZE_MIB ...]   (default: 256 1024)

For each size, builds one real named volume (many small files and a few large
ones, random content), then in the same run, cold page cache before each step
(`sync; echo 3 > /proc/sys/vm/drop_caches`, when permitted):
  tar     `tar -cf` to a file, then `tar -xf` into an empty folder
  restic  `restic backup` into a fresh local repository, then `restic restore`
  ccci    `Snapshots.take` (hash and member check of the stream, fsync, atomic
          swap), then `Snapshots.restore` (hash and member check while
          extracting into staging, then swap), each in its own process
          (interpreter start and imports included, as `ccci-snapshot` pays them)
Prints seconds and peak memory per step (the largest process of the step's
tree, read with Python's resource module: no GNU time needed), the ratio of
ccci's take + restore to plain tar's -c + -x, and to the faster baseline.
Aims: ratio to tar <= 1.0; ccci's peak memory <= 64 MiB, <= restic's, and
flat as the volume grows. On a shared machine `--rounds N` runs tar's and
ccci's steps N times, interleaved, and reports each step's median;
`--no-restic` leaves restic out.
Leaves nothing behind: the volume, the snapshots and the
scratch folder under /var/tmp are removed, also on failure.
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


# Runs argv as its only child and writes the child's peak RSS (KiB) to a
# file: getrusage(RUSAGE_CHILDREN).ru_maxrss, as GNU time does. The measuring
# process must be small: a child's ru_maxrss starts from the RSS of the
# process it was forked from, so measuring from this (large) process
# directly would report its size for every step below it.
PEAK = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
status = os.waitpid(pid, 0)[1]
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(argv: list[str], env: dict | None = None) -> tuple[float, int]:
    """Seconds, and peak RSS in KiB: that of the largest process of argv's
    tree (waited-for descendants count), read with Python's resource module
    in a minimal interpreter (see PEAK; `floor()` is what it reports for a
    step that uses next to nothing)."""
    with tempfile.NamedTemporaryFile("r") as report:
        began = time.monotonic()
        done = subprocess.run([sys.executable, "-I", "-S", "-c", PEAK, report.name, *argv],
                              env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        seconds = time.monotonic() - began
        if done.returncode != 0:
            raise SystemExit(f"{argv[:3]} failed: {done.stderr.decode(errors='replace')[-500:]}")
        return seconds, int(report.read())


def floor() -> int:
    """The peak memory `timed` reports for `true`: no step reads lower."""
    return timed(["true"])[1]


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


def run_size(client, size_mib: int, work: Path, rounds: int = 1, restic: bool = True) -> dict[str, tuple[float, int]]:
    stack = f"bench{size_mib}_ccci_test"
    volume = client.volumes.create(f"{stack}_data", labels={IMAGE_NAMESPACE: stack})
    try:
        mountpoint = Path(client.api.inspect_volume(volume.name)["Mountpoint"])
        files = fill(mountpoint, size_mib)
        print(f"\n{size_mib} MiB volume, {files} files", file=sys.stderr)
        runs: dict[str, list[tuple[float, int]]] = {}
        for _ in range(rounds):
            for step, result in [*plain_tar(mountpoint, work), *ccci(stack, mountpoint, work)]:
                runs.setdefault(step, []).append(result)
        out = {step: median(results) for step, results in runs.items()}
        if restic:
            out.update(restic_steps(mountpoint, work))
        return out
    finally:
        engine.Stack(client, stack).remove_leftovers()


def median(results: list[tuple[float, int]]) -> tuple[float, int]:
    """The median seconds of a step's rounds, with the largest peak memory of any."""
    seconds = sorted(r[0] for r in results)
    return seconds[len(seconds) // 2], max(r[1] for r in results)


def plain_tar(mountpoint: Path, work: Path) -> list[tuple[str, tuple[float, int]]]:
    tar_file, tar_dest = work / "plain.tar", work / "plain-restore"
    tar_dest.mkdir()
    drop_caches()
    create = timed(["tar", "-C", str(mountpoint), "-cf", str(tar_file), "."])
    drop_caches()
    extract = timed(["tar", "-C", str(tar_dest), "-xf", str(tar_file)])
    shutil.rmtree(tar_dest)
    tar_file.unlink()
    return [("tar -c", create), ("tar -x", extract)]


def ccci(stack: str, mountpoint: Path, work: Path) -> list[tuple[str, tuple[float, int]]]:
    snaps = work / "snap"
    drop_caches()
    take = timed([sys.executable, "-c", CCCI_STEP, str(snaps), stack, "take"])
    drop_caches()
    restore = timed([sys.executable, "-c", CCCI_STEP, str(snaps), stack, "restore"])
    shutil.rmtree(snaps)
    # Restore removes the volume's old data in the background: let it finish
    # before the next step, so no step is timed while it runs.
    while list(mountpoint.parent.glob(".ccci-old-*")):
        time.sleep(0.2)
    return [("ccci take", take), ("ccci restore", restore)]


def restic_steps(mountpoint: Path, work: Path) -> dict[str, tuple[float, int]]:
    out: dict[str, tuple[float, int]] = {}
    repo, restic_dest = work / "restic", work / "restic-restore"
    env = {"RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo)}
    subprocess.run(["restic", "init"], env={**os.environ, **env}, check=True, capture_output=True)
    drop_caches()
    out["restic backup"] = timed(["restic", "backup", "--quiet", str(mountpoint)], env)
    drop_caches()
    out["restic restore"] = timed(["restic", "restore", "--quiet", "latest", "--target", str(restic_dest)], env)
    shutil.rmtree(repo)
    shutil.rmtree(restic_dest)
    return out


def main(argv: list[str]) -> int:
    rounds, restic = 1, True
    args = list(argv)
    if "--no-restic" in args:
        args.remove("--no-restic")
        restic = False
    if "--rounds" in args:
        at = args.index("--rounds")
        rounds = int(args[at + 1])
        del args[at:at + 2]
    sizes = [int(a) for a in args] or [256, 1024]
    client = engine.connect()
    print("page cache dropped before each step" if drop_caches() else
          "page cache could NOT be dropped (not permitted): steps may read from cache", file=sys.stderr)
    print(f"peak memory is measured from {floor() / 1024:.1f} MiB up (what `true` shows)", file=sys.stderr)
    peaks = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="ccci-bench-snap-", dir="/var/tmp") as tmp:
            out = run_size(client, size, Path(tmp), rounds, restic)
        for step, (seconds, rss) in out.items():
            print(f"{size:>5} MiB  {step:<15} {seconds:7.2f}s  peak {rss / 1024:7.1f} MiB")
        tar = out["tar -c"][0] + out["tar -x"][0]
        ccci = out["ccci take"][0] + out["ccci restore"][0]
        print(f"{size:>5} MiB  take+restore: ccci {ccci:.2f}s, tar -c + tar -x {tar:.2f}s; "
              f"ccci / tar = {ccci / tar:.2f} (aim <= 1.0)")
        ccci_peak = max(out["ccci take"][1], out["ccci restore"][1])
        memory = f"{size:>5} MiB  peak memory: ccci {ccci_peak / 1024:.1f} MiB (aim <= 64)"
        if restic:
            restic_time = out["restic backup"][0] + out["restic restore"][0]
            print(f"{size:>5} MiB  take+restore: restic {restic_time:.2f}s; "
                  f"ccci / faster baseline = {ccci / min(tar, restic_time):.2f}")
            memory += f", restic {max(out['restic backup'][1], out['restic restore'][1]) / 1024:.1f} MiB"
        print(memory)
        peaks.append(ccci_peak)
    if len(peaks) > 1:
        print(f"ccci peak memory from {sizes[0]} to {sizes[-1]} MiB: x{peaks[-1] / peaks[0]:.2f} (flat is ~1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
