from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.errors import ConfigError
from core.policy import (
    PolicySettings,
    Rule,
    Severity,
    Violation,
    blocking,
    evaluate,
    rule,
)


@dataclass
class Effects:
    rows: Mapping[str, int] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()


@rule("test.max-rows")
def max_rows(effects: Effects, settings: PolicySettings) -> Iterator[str]:
    limit = settings.max_rows_per_table
    for table, count in effects.rows.items():
        if limit is not None and count > limit:
            yield f"{count} rows changed in {table} (limit {limit})"


@rule("test.no-drop", Severity.WARNING)
def no_drop(effects: Effects, settings: PolicySettings) -> Iterator[str]:
    if not settings.allow_drop:
        for table in effects.dropped:
            yield f"{table} dropped"


RULES: tuple[Rule[Effects], ...] = (max_rows, no_drop)
BIG = Effects(rows={"a": 5, "b": 50, "c": 500}, dropped=("old",))


def test_rule_decorator() -> None:
    assert max_rows.rule_id == "test.max-rows"
    assert no_drop.severity is Severity.WARNING
    found = list(max_rows(BIG, PolicySettings(max_rows_per_table=10)))
    assert found == [
        Violation("test.max-rows", Severity.ERROR, "50 rows changed in b (limit 10)"),
        Violation("test.max-rows", Severity.ERROR, "500 rows changed in c (limit 10)"),
    ]


def test_evaluate_runs_every_rule() -> None:
    found = evaluate(RULES, BIG, PolicySettings(max_rows_per_table=100))
    assert [(v.rule, v.severity) for v in found] == [
        ("test.max-rows", Severity.ERROR),
        ("test.no-drop", Severity.WARNING),
    ]
    assert evaluate(RULES, Effects(rows={"a": 1}), PolicySettings()) == []


def test_settings_reach_the_rules() -> None:
    assert evaluate(RULES, BIG, PolicySettings(max_rows_per_table=None, allow_drop=True)) == []


def test_disabled_rules_do_not_run() -> None:
    calls: list[Any] = []

    @rule("test.spy")
    def spy(effects: Effects, settings: PolicySettings) -> Iterator[str]:
        calls.append(effects)
        yield "spied"

    settings = PolicySettings(max_rows_per_table=10, disable=("test.spy", "test.max-rows"))
    found = evaluate((*RULES, spy), BIG, settings)
    assert [v.rule for v in found] == ["test.no-drop"]
    assert calls == []


def test_severity_override() -> None:
    settings = PolicySettings(
        max_rows_per_table=10,
        severity={"test.max-rows": Severity.WARNING, "test.no-drop": Severity.ERROR},
    )
    found = evaluate(RULES, BIG, settings)
    assert {v.rule: v.severity for v in found} == {
        "test.max-rows": Severity.WARNING,
        "test.no-drop": Severity.ERROR,
    }
    assert [v.rule for v in blocking(found)] == ["test.no-drop"]


def test_blocking_keeps_errors_only() -> None:
    found = evaluate(RULES, BIG, PolicySettings(max_rows_per_table=10))
    assert {v.rule for v in blocking(found)} == {"test.max-rows"}
    assert blocking([]) == []


def test_violation_json() -> None:
    v = Violation("test.x", Severity.WARNING, "careful")
    assert v.to_json() == {"rule": "test.x", "severity": "warning", "message": "careful"}


def test_from_mapping() -> None:
    settings = PolicySettings.from_mapping(
        {
            "read_only": True,
            "max_rows_per_table": 0,
            "max_rows_total": None,
            "max_files_changed": "none",
            "deny_tables": ["public.payments"],
            "deny_paths": ("secrets/**",),
            "disable": [],
            "severity": {"db.drop": "warning", "fs.max-files": "error"},
        }
    )
    assert settings.read_only is True
    assert settings.max_rows_per_table == 0
    assert settings.max_rows_total is None and settings.max_files_changed is None
    assert settings.deny_tables == ("public.payments",)
    assert settings.deny_paths == ("secrets/**",)
    assert settings.severity == {"db.drop": Severity.WARNING, "fs.max-files": Severity.ERROR}
    assert PolicySettings.from_mapping({}) == PolicySettings()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_rows": 3}, r"\[policy\]: unknown policy setting 'max_rows'"),
        ({"read_only": "yes"}, "read_only must be a bool, not 'yes'"),
        ({"allow_drop": 1}, "allow_drop must be a bool"),
        ({"deny_tables": "payments"}, "deny_tables must be a tuple"),
        ({"deny_tables": ["a", 3]}, "deny_tables must be a tuple"),
        ({"max_rows_total": -1}, "max_rows_total must be a int, not -1"),
        ({"max_rows_total": 2.5}, "max_rows_total must be"),
        ({"max_rows_total": True}, "max_rows_total must be"),
        ({"max_rows_total": "lots"}, "max_rows_total must be"),
        ({"severity": "error"}, "severity must be a table"),
        ({"severity": {"db.x": "fatal"}}, "severity levels are 'warning', 'review' or 'error'"),
    ],
)
def test_from_mapping_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        PolicySettings.from_mapping(data)
    assert info.value.key == next(iter(data))


def test_from_mapping_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^policy\.toml: unknown policy setting"):
        PolicySettings.from_mapping({"nope": 1}, source="policy.toml")
