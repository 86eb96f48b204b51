"""Every case of the adversarial file-action corpus (tests/adversarial/fs/) through the real
``goex-fs run --cmd`` process, in a fresh project with an outside directory next to it.

Each case asserts what its header says (contained, rejected or refused), a clear message (one
``error:`` line and no traceback when goex refuses), that nothing outside the project changed
(the outside directory, goex's home, /etc, /dev/shm, /tmp and /var/tmp), that the real
directory is unchanged unless the action was committed — and then holds only what the report
listed — and that goex-fs still works in the same directory afterwards.

The cases are started together, a few at a time (``PARALLEL``), when the first one is needed:
each goex-fs process spends most of its life starting Python, and the machine is shared.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from goexfs.cli import main
from tests.adversarial.fs.corpus import EXPECTATIONS, Case, load_cases
from tests.adversarial.fs.runner import (
    Outcome,
    available,
    clean_environment,
    run_case,
)
from tests.support import require

CASES = load_cases()
MINIMUM_CASES = 40
PARALLEL = 3
STATUS = {
    ("contained", "commit"): "committed",
    ("contained", "policy"): "committed",
    ("contained", "rollback"): "rolled_back",
}


def test_the_corpus_covers_the_ground() -> None:
    assert len(CASES) >= MINIMUM_CASES
    assert set(Counter(c.expect for c in CASES)) == set(EXPECTATIONS)
    assert len({c.name for c in CASES}) == len(CASES)


Key = tuple[str, str]


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> Iterator[dict[Key, Future[Outcome]]]:
    """Every selected case, started on a small pool as soon as the first is needed."""
    require(os.geteuid() == 0, "the file-action corpus mounts small tmpfs projects (needs root)")
    selected = [
        item.callspec.params
        for item in request.session.items
        if item.module is sys.modules[__name__] and hasattr(item, "callspec")
    ]
    selected = [p for p in selected if all(available(r) for r in p["case"].requires)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {
            (p["case"].name, p["backend"]): pool.submit(run_case, p["case"], p["backend"])
            for p in selected
        }
        try:
            yield futures
        finally:
            for future in futures.values():
                if not future.cancel() and future.exception() is None:
                    future.result().close()


def tools(case: Case) -> tuple[str, ...]:
    """The commands a case needs: bubblewrap (goex-fs's default sandbox) always; mount and umount
    for a project on a tmpfs (``disk:``) and for the case that tries mount in the sandbox."""
    mounts = case.disk_mib is not None or case.name == "mount"
    return ("bwrap", "mount", "umount") if mounts else ("bwrap",)


@pytest.mark.parametrize(
    ("case", "backend"),
    [
        pytest.param(c, b, id=f"{c.name}-{b}", marks=pytest.mark.needs(*tools(c)))
        for c in CASES
        for b in c.backends
    ],
)
def test_case(
    case: Case,
    backend: str,
    outcomes: dict[Key, Future[Outcome]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for requirement in case.requires:
        require(available(requirement), f"this machine has no {requirement} for {case.name}")
    run = outcomes[(case.name, backend)].result()
    try:
        check(case, run, monkeypatch, capsys)
    finally:
        run.close()


def check(
    case: Case, run: Outcome, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "Traceback" not in run.err, run.err
    assert run.code == case.exit_code, f"{case.tries}: {run.err or run.out[:3000]}"
    if case.expect == "refused":
        assert run.err.startswith("error: ") and run.err.count("\n") == 1, run.err
        assert case.message in run.err
        status = None
    else:
        report = json.loads(run.out)
        status = report["status"]
        assert status == STATUS.get((case.expect, case.decide), "rejected"), report["decision"]
        if case.expect == "rejected":
            assert case.message in json.dumps(report["violations"]), report["violations"]
        else:
            assert case.message in json.dumps(report), report["output"]
    for text in case.absent:
        value = run.places.expand(text).decode()
        assert value not in run.out and value not in run.err, f"goex printed {value!r}"
    assert run.connected == [], "the command reached a host socket"

    # Nothing outside the project changed; the project only by a reviewed commit.
    for place in ("outside", "home", "host"):
        assert run.after[place] == run.before[place], place
    before, after = run.before["project"], run.after["project"]
    assert isinstance(before, dict) and isinstance(after, dict)
    if status == "committed":
        listed = {os.fsencode(c["path"]) for c in report["changes"]}
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        assert changed <= listed, f"committed paths nobody reviewed: {changed - listed}"
    else:
        assert after == before
    for line, holds in run.after_checks:
        assert holds, f"after the run: {line!r}"

    # goex-fs still works in the same directory (in this process: the same entry point).
    for name, value in clean_environment(run.places).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(
        sys, "argv", ["goex-fs", "run", "--dir", str(run.places.root), "--cmd", "true"]
    )
    monkeypatch.setenv("GOEX_DECIDE", "rollback")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 3, capsys.readouterr().err
