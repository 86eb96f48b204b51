"""Database policy rules judge classified statements and measured effects."""

from __future__ import annotations

from core.policy import PolicySettings, Severity, evaluate
from goexdb.effects import Effects, SchemaChange, TableChange
from goexdb.rules import RULES, Outcome
from goexdb.sql import parse_script


def outcome(sql: str, tables: dict[str, TableChange] | None = None, **effects: object) -> Outcome:
    return Outcome(parse_script(sql, "postgres"), Effects(tables=tables or {}, **effects))  # type: ignore[arg-type]


def rules_hit(o: Outcome, settings: PolicySettings | None = None) -> list[str]:
    return [v.rule for v in evaluate(RULES, o, settings or PolicySettings())]


def test_a_narrow_update_passes() -> None:
    o = outcome("UPDATE t SET a = 1 WHERE id = 1", {"public.t": TableChange(updated=1)})
    assert rules_hit(o) == []


def test_row_limits_are_per_table_and_total() -> None:
    o = outcome(
        "UPDATE t SET a = 1 WHERE id > 1",
        {"public.t": TableChange(updated=6), "public.u": TableChange(deleted=5)},
    )
    settings = PolicySettings(max_rows_per_table=5, max_rows_total=10)
    assert rules_hit(o, settings) == ["db.max-rows-table", "db.max-rows-total"]


def test_unfiltered_write_and_drop() -> None:
    assert rules_hit(outcome("DELETE FROM t")) == ["db.unfiltered-write"]
    assert rules_hit(outcome("DELETE FROM t"), PolicySettings(allow_unfiltered_writes=True)) == []
    assert "db.drop" in rules_hit(outcome("DROP TABLE t"))
    assert "db.drop" in rules_hit(outcome("TRUNCATE t"))


def test_denied_tables_match_qualified_or_bare_names() -> None:
    o = outcome("DELETE FROM payments WHERE id = 1", {"public.payments": TableChange(deleted=1)})
    assert rules_hit(o, PolicySettings(deny_tables=("payments",))) == ["db.denied-table"]
    assert rules_hit(o, PolicySettings(deny_tables=("public.payments",))) == ["db.denied-table"]
    assert rules_hit(o, PolicySettings(deny_tables=("other",))) == []


def test_denied_columns_anywhere_in_a_statement() -> None:
    o = outcome("SELECT password_hash FROM users")
    assert rules_hit(o, PolicySettings(deny_columns=("password_hash",))) == ["db.denied-column"]


def test_read_only_and_dml_only_modes() -> None:
    write = outcome("UPDATE t SET a = 1 WHERE id = 1", {"public.t": TableChange(updated=1)})
    assert rules_hit(write, PolicySettings(read_only=True)) == ["db.read-only"]
    ddl = outcome(
        "ALTER TABLE t ADD COLUMN c int", schema_changes=[SchemaChange("column_added", "t", "c")]
    )
    hits = evaluate(RULES, ddl, PolicySettings(dml_only=True))
    assert [(v.rule, v.severity) for v in hits] == [
        ("db.dml-only", Severity.ERROR),
        ("db.schema-change", Severity.WARNING),
    ]


def test_a_dropped_column_is_destruction_too() -> None:
    o = outcome(
        "ALTER TABLE t DROP COLUMN c",
        schema_changes=[SchemaChange("column_dropped", "public.t", "c")],
    )
    assert "db.drop" in rules_hit(o)
    assert "db.drop" not in rules_hit(o, PolicySettings(allow_drop=True))


def test_denied_functions_are_found_inside_an_explain() -> None:
    assert "db.denied-function" in rules_hit(outcome("EXPLAIN SELECT pg_read_file('/etc/x')"))
