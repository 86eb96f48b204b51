"""goex-fs staging: stage, run, diff and commit of a command that changes 10 files, on trees
of 1,000, 10,000 and 100,000 files, for every backend available here, in one run.

Baselines measured in the same run, on the same tree:

* ``git-paper`` — the GoEx paper's runtime: ``git init``, ``git add .`` and ``git commit`` of
  the whole tree (its "stage"), the command run in the tree itself, ``git reset --hard`` to
  revert (its "commit" column is that revert);
* ``cp -a`` — a plain copy of the tree (its "stage").

Each backend runs ``--repeat`` times (3) per size and the medians are shown (the commit's
fsyncs vary a lot from run to run). The git backend's first staging hashes every file into the
shadow repository and is shown alone (``git``); the later ones only rehash what changed
(``git again``).

The tree lives on a loop-mounted btrfs image (as a subvolume), so every backend can run on it;
without root (or btrfs-progs) it is a plain temporary directory and only overlay-less backends
that work there are measured. Files are about 10 kB each, so 100,000 files are about 1 GB.

Targets (issue 5): overlay and btrfs stage in <= 50 ms at every size (>= 100x faster than the
git baseline at 100,000 files); diff + commit of 10 changed files no more than 2x slower at
100,000 files than at 1,000. Run it as a user who is not root too (issue 16: overlay then
mounts in a user namespace of its own, through a holder process; same 50 ms target):
``su USER -c "python scripts/bench_fs.py --backends overlay,git,copy"``.

    python scripts/bench_fs.py                  # 1k, 10k, 100k files
    python scripts/bench_fs.py --quick          # 1k and 10k files
    python scripts/bench_fs.py --sizes 1000,5000 --file-size 4096
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.action import Action, Kind
from core.journal import Journal
from core.secrets import SecretStore
from goexfs.apply.commit import commit
from goexfs.backends import AUTO_ORDER, stager_for, unavailable
from goexfs.project import workspace_for
from goexfs.sandbox.bwrap import find_bwrap, run_command

PER_DIR = 100
CHANGED = 10
COMMAND = "for i in $(seq 0 9); do echo changed >> d$i/f$i; done"
COLUMNS = ("stage", "run", "diff", "commit")


def build_tree(root: Path, files: int, file_size: int) -> None:
    block = os.urandom(file_size)
    for n in range(files):
        directory = root / f"d{n // PER_DIR}"
        if n % PER_DIR == 0:
            directory.mkdir()
        (directory / f"f{n % PER_DIR}").write_bytes(f"{n}\n".encode() + block)


def timed(fn: Callable[[], object]) -> float:
    os.sync()  # dirty data of an earlier step is not this step's cost
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_backend(name: str, root: Path, journal: Journal, bwrap: str) -> dict[str, float]:
    secrets = SecretStore.load()
    stager = stager_for(name)
    workspace = workspace_for(root)
    times: dict[str, float] = {}
    os.sync()
    start = time.perf_counter()
    staged = stager.stage(root, workspace)
    times["stage"] = time.perf_counter() - start
    try:
        times["run"] = timed(
            lambda: run_command(
                COMMAND,
                root=root,
                tree=staged.tree,
                mode="bwrap",
                timeout=600,
                secrets=secrets,
                redactor=secrets.redactor(),
                bwrap=bwrap,
                enter=staged.enter,
            )
        )
        os.sync()
        start = time.perf_counter()
        changes = staged.changes()
        times["diff"] = time.perf_counter() - start
        assert len(changes) == CHANGED, [c.path for c in changes]
        action = Action(kind=Kind.FS, target=str(root), code=COMMAND)
        journal.save(action)
        times["commit"] = timed(
            lambda: commit(staged, changes, journal=journal, action_id=action.id)
        )
    finally:
        times["rollback"] = timed(staged.rollback)
    return times


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each column's median over repeated runs (fsync-bound steps vary from run to run)."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def measure_git_paper(root: Path) -> dict[str, float]:
    """The paper's baseline, with the repository kept outside the tree (so the tree stays
    comparable); the command runs in the tree itself, and reset --hard reverts it."""
    git_dir = Path(tempfile.mkdtemp(prefix="goex-bench-git-"))
    env = {
        **os.environ,
        "GIT_DIR": str(git_dir),
        "GIT_WORK_TREE": str(root),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    def stage() -> None:
        git("init", "--quiet")
        git("add", ".", ":(exclude).goex")
        git("commit", "--quiet", "-m", "snapshot")

    try:
        times = {"stage": timed(stage)}
        times["run"] = timed(lambda: subprocess.run(["sh", "-c", COMMAND], cwd=root, check=True))
        times["diff"] = timed(lambda: git("diff", "--stat"))
        times["commit"] = timed(lambda: git("reset", "--quiet", "--hard"))
    finally:
        shutil.rmtree(git_dir)
    return times


def measure_plain_copy(root: Path) -> dict[str, float]:
    target = Path(tempfile.mkdtemp(prefix="copy-", dir=root.parent))
    try:
        return {"stage": timed(lambda: subprocess.run(["cp", "-a", f"{root}/.", str(target)]))}
    finally:
        shutil.rmtree(target)


@contextmanager
def bench_place(gigabytes: int) -> Iterator[tuple[Path, bool]]:
    """A btrfs mount (image file, loop device) when possible, else a temporary directory."""
    base = Path(tempfile.mkdtemp(prefix="goex-bench-"))
    mount = base / "mnt"
    mount.mkdir()
    image = base / "volume.img"
    mounted = False
    if os.geteuid() == 0 and shutil.which("mkfs.btrfs"):
        with open(image, "wb") as handle:
            handle.truncate(gigabytes << 30)
        made = subprocess.run(["mkfs.btrfs", "-q", str(image)], capture_output=True)
        if made.returncode == 0:
            done = subprocess.run(["mount", "-o", "loop", str(image), str(mount)])
            mounted = done.returncode == 0
    try:
        yield mount, mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], check=True)
        shutil.rmtree(base)


def make_root(place: Path, files: int, btrfs: bool) -> Path:
    root = place / f"tree-{files}"
    if btrfs:
        subprocess.run(["btrfs", "subvolume", "create", str(root)], check=True, capture_output=True)
    else:
        root.mkdir()
    return root


def drop(root: Path, btrfs: bool) -> None:
    if btrfs:
        shutil.rmtree(root / ".goex", ignore_errors=True)
        subprocess.run(["btrfs", "subvolume", "delete", str(root)], check=True, capture_output=True)
    else:
        shutil.rmtree(root)


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="tree sizes, in files")
    parser.add_argument("--quick", action="store_true", help="only 1,000 and 10,000 files")
    parser.add_argument("--file-size", type=int, default=10_000, help="bytes per file")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per backend and size; medians are shown"
    )
    parser.add_argument(
        "--backends", default=",".join(AUTO_ORDER), help="backends to measure (comma-separated)"
    )
    args = parser.parse_args()
    backends = [name for name in AUTO_ORDER if name in args.backends.split(",")]
    sizes = [1_000, 10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    bwrap = find_bwrap()
    if bwrap is None:
        sys.exit("bench_fs needs bubblewrap (bwrap)")
    need_gb = max(4, 6 * max(sizes) * args.file_size // (1 << 30) + 2)
    results: dict[tuple[int, str], dict[str, float]] = {}
    with bench_place(need_gb) as (place, btrfs):
        print(f"trees on {'a loop-mounted btrfs subvolume' if btrfs else place}")
        for files in sizes:
            root = make_root(place, files, btrfs)
            print(f"\n{files:,} files of {args.file_size:,} bytes", flush=True)
            build_tree(root, files, args.file_size)
            with Journal(place / f"journal-{files}.sqlite3") as journal:
                results[(files, "git-paper")] = measure_git_paper(root)
                results[(files, "cp -a")] = measure_plain_copy(root)
                for name in backends:
                    reason = unavailable(name, root)
                    if reason:
                        print(f"  {name}: not measured ({reason})")
                        continue
                    runs = [measure_backend(name, root, journal, bwrap)]
                    if name == "git":  # the shadow index makes later stagings incremental
                        results[(files, name)] = runs.pop()
                        name = "git again"
                    runs += [
                        measure_backend(
                            "git" if name == "git again" else name, root, journal, bwrap
                        )
                        for _ in range(args.repeat - len(runs))
                    ]
                    results[(files, name)] = medians(runs)
            report(files, results)
            drop(root, btrfs)
    summary(sizes, results)


def report(files: int, results: dict[tuple[int, str], dict[str, float]]) -> None:
    baseline = results[(files, "git-paper")]["stage"]
    print(
        f"  {'backend':10} {'stage ms':>9} {'run ms':>9} {'diff ms':>9} {'commit ms':>9}  "
        "stage vs git-paper"
    )
    for (size, name), times in results.items():
        if size != files:
            continue
        cells = " ".join(ms(times.get(column)) for column in COLUMNS)
        print(f"  {name:10} {cells}  {baseline / times['stage']:8.1f}x faster")


def summary(sizes: list[int], results: dict[tuple[int, str], dict[str, float]]) -> None:
    small, large = min(sizes), max(sizes)
    if small == large:
        return
    print(f"\ndiff + commit of {CHANGED} files, {large:,} vs {small:,} files (target <= 2x):")
    for name in [n if n != "git" else "git again" for n in AUTO_ORDER]:
        if (small, name) in results and (large, name) in results:
            a, b = results[(small, name)], results[(large, name)]
            ratio = (b["diff"] + b["commit"]) / (a["diff"] + a["commit"])
            print(f"  {name:10} {ratio:5.2f}x")
    print("stage <= 50 ms (overlay, btrfs):")
    for name in ("overlay", "btrfs"):
        worst = max(
            (results[(n, name)]["stage"] for n in sizes if (n, name) in results), default=None
        )
        if worst is not None:
            print(f"  {name:10} worst {worst * 1000:.1f} ms")


if __name__ == "__main__":
    main()
