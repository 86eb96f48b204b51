"""Migration discovery: each convention's order, what is not a migration, bad paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UsageError
from goexdb.migrations import discover


def make(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("SELECT 1;\n")
    return directory


def names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_flyway_versions_compare_numerically_and_repeatables_come_last(tmp_path: Path) -> None:
    d = make(
        tmp_path / "m",
        "R__views.sql",
        "V10__ten.sql",
        "V2__two.sql",
        "V1_1__one_one.sql",
        "V1__one.sql",
        "V1.2__one_two.sql",
        "R__a_functions.sql",
        "U2__undo_two.sql",
        "notes.txt",
    )
    assert names(discover([d])) == [
        "V1__one.sql",
        "V1_1__one_one.sql",
        "V1.2__one_two.sql",
        "V2__two.sql",
        "V10__ten.sql",
        "R__a_functions.sql",
        "R__views.sql",
    ]


def test_golang_migrate_and_dbmate_take_up_files_only(tmp_path: Path) -> None:
    d = make(
        tmp_path / "m",
        "10_c.up.sql",
        "10_c.down.sql",
        "2_b.up.sql",
        "2_b.down.sql",
        "1_a.up.sql",
        "1_a.down.sql",
    )
    assert names(discover([d])) == ["1_a.up.sql", "2_b.up.sql", "10_c.up.sql"]


def test_plain_numbered_files_sort_by_number(tmp_path: Path) -> None:
    d = make(
        tmp_path / "m",
        "20240101120000_late.sql",
        "0002_x.sql",
        "10.sql",
        "1.sql",
        "20231231235959_early.sql",
    )
    assert names(discover([d])) == [
        "1.sql",
        "0002_x.sql",
        "10.sql",
        "20231231235959_early.sql",
        "20240101120000_late.sql",
    ]


def test_other_names_sort_naturally(tmp_path: Path) -> None:
    d = make(tmp_path / "m", "step10.sql", "step2.sql", "Step1.sql")
    assert names(discover([d])) == ["Step1.sql", "step2.sql", "step10.sql"]


def test_explicit_files_join_the_migration_order_once(tmp_path: Path) -> None:
    d = make(tmp_path / "m", "V10__ten.sql", "V2__two.sql", "V1__one.sql")
    # A shell glob hands them over as V10, V1, V2 (lexicographic); the tool's order is kept.
    given = [d / "V10__ten.sql", d / "V1__one.sql", d / "V2__two.sql", d / "V1__one.sql"]
    assert names(discover(given)) == ["V1__one.sql", "V2__two.sql", "V10__ten.sql"]
    assert names(discover([d / "V2__two.sql", d])) == ["V1__one.sql", "V2__two.sql", "V10__ten.sql"]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        discover([tmp_path / "nope.sql"])


def test_directory_without_migrations_is_a_usage_error(tmp_path: Path) -> None:
    d = make(tmp_path / "m", "1_a.down.sql", "README.md")
    with pytest.raises(UsageError, match="has no migrations"):
        discover([d])


def test_no_paths_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        discover([])
