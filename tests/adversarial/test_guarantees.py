"""The README's Guarantees section states figures; this keeps them equal to what the suite runs.

Every bullet of the section that holds a number must match exactly one entry of ``FIGURES``,
and its numbers must be the ones the entry computes from the tests themselves. To add a figure
(the goex-fs side will): write the bullet in the README and add a ``Figure`` here whose
``expected`` reads the count from the test module that runs the trials.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.adversarial import test_db_faults as faults
from tests.adversarial import test_db_load as load
from tests.adversarial import test_fs_load as fs_load
from tests.adversarial.corpus import load_cases
from tests.adversarial.fs import corpus as fs_corpus
from tests.adversarial.fs.corpus import BACKENDS as FS_BACKENDS
from tests.goexfs import test_crash as crash

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass(frozen=True)
class Figure:
    pattern: str  # a regex for one bullet line; its groups are the figures
    expected: Callable[[], tuple[int, ...]]


def _sql_corpus() -> tuple[int, ...]:
    cases = load_cases()
    kinds = Counter(c.expect for c in cases)
    runs = sum(len(c.backends) for c in cases)
    return len(cases), runs, kinds["refused"], kinds["neutralised"], kinds["harmless"], 0


def _fs_corpus() -> tuple[int, ...]:
    cases = fs_corpus.load_cases()
    kinds = Counter(c.expect for c in cases)
    fewer = sum(len(c.backends) < len(FS_BACKENDS) for c in cases)
    return len(cases), fewer, kinds["contained"], kinds["rejected"], kinds["refused"], 0


def _load() -> tuple[int, ...]:
    return load.CONCURRENT_SESSIONS, 6, 6, 4, 0, 0


FIGURES = {
    "sql corpus": Figure(
        r"- SQL adversarial cases: (\d+) \((\d+) runs on PostgreSQL and DuckDB: (\d+) refused, "
        r"(\d+) neutralised, (\d+) harmless\), escapes: (\d+)",
        _sql_corpus,
    ),
    "db crashes": Figure(
        r"- Crash and fault trials: (\d+) \(.*\), states lost: (\d+)",
        lambda: (faults.CRASH_TRIALS, 0),
    ),
    "model faults": Figure(
        r"- Model faults: (\d+) \(.*\), statements executed: (\d+)",
        lambda: (len(faults.MODEL_FAULTS), 0),
    ),
    "injections": Figure(
        r"- Planted prompt injections: (\d+) runs \(.*\), passed policy: (\d+)",
        lambda: (len(faults.INJECTION_DECIDE_MODES) * 2, 0),  # on both backends
    ),
    "load": Figure(
        r"- Concurrent sessions held: (\d+) on one PostgreSQL server \((\d+) blocked, (\d+) "
        r"contending, (\d+) deadlock-prone\), hangs: (\d+), locks left: (\d+)",
        _load,
    ),
    "fs corpus": Figure(
        r"- File-action adversarial cases: (\d+) \(through goex-fs run on the "
        + " and ".join(f"{b}" for b in FS_BACKENDS)
        + r" backends, (\d+) of them on one: (\d+) contained, (\d+) rejected, (\d+) refused\), "
        r"escapes: (\d+)",
        _fs_corpus,
    ),
    "fs load": Figure(
        r"- Concurrent goex-fs sessions held: (\d+) in one directory, journals: (\d+)",
        lambda: (fs_load.CONCURRENT_SESSIONS, 1),
    ),
    "fs crashes": Figure(
        r"- goex-fs crash trials: (\d+) \((\d+) commits, (\d+) undos .*\), states lost: (\d+)",
        lambda: (crash.TRIALS + crash.UNDO_TRIALS, crash.TRIALS, crash.UNDO_TRIALS, 0),
    ),
}


def _section() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Guarantees\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## Guarantees' section"
    return [line for line in match.group(1).splitlines() if line.startswith("- ")]


@pytest.mark.parametrize("name", list(FIGURES))
def test_a_readme_figure_matches_the_suite(name: str) -> None:
    figure = FIGURES[name]
    found = [m for line in _section() if (m := re.fullmatch(figure.pattern, line))]
    assert len(found) == 1, f"README.md needs exactly one line matching {figure.pattern!r}"
    assert tuple(int(g) for g in found[0].groups()) == figure.expected()


def test_every_figure_in_the_section_is_checked() -> None:
    for line in _section():
        if re.search(r"\d", line):
            assert any(re.fullmatch(f.pattern, line) for f in FIGURES.values()), line
