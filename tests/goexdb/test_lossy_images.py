"""Values a row image cannot keep (goexdb.backends.postgres.lossy): a json or jsonb JSON null,
an array whose lower bound is not 1, a JSON null or JSON array element of a json or jsonb array,
json with a \\u0000, a \\u escape or white space around it, any of these inside a composite,
an object identifier, a type with its own cast to json, and a float, interval or range of dates
printed under settings that read back otherwise (a trigger may change one for a while).
Before, an action over such a row was reported reversible, and its undo exited 0 having written
SQL NULL, the array from 1, another date, ... (or failed). Now the action is irreversible, with
the reason, on every path that images rows: RETURNING old/new (PostgreSQL 18), the pre-18 read
first, the rows a trigger changed, and a TRUNCATE's. Rows are compared as the server prints
them (``t::text``), which tells JSON null from SQL NULL and prints an array's bounds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import goexdb
from core.config import DbConfig
from core.errors import ConflictError, StateError

# (column, a value its image cannot keep); its values it can keep, written in each row
LOST = [
    ("v", "'null'"),
    ("a", "'[2:4]={1,2,3}'"),
    ("ja", "'{\"null\"}'"),
    ("j", r"""'"\u0000"'"""),
    ("j", "'{}  '"),
    ("c", "ROW('null', NULL)"),  # a composite
    ("cs", "ARRAY[ROW(NULL, '[0:0]={1}')::{s}.pair]"),  # an array of them
    ("dd", "ARRAY['null'::jsonb]"),  # an array of a domain over a domain over jsonb
    ("j", r"""'"\u0041"'"""),  # a JSON string read back unescaped, as "A"
    ("cp", "ARRAY[ROW(ARRAY['null'::jsonb])::{s}.holder]"),  # quoted at a depth of three
    ("ja", '\'{"[1]", "[2]"}\''),  # read back as {{1},{2}}, printed alike
    ("cp", "ARRAY[ROW(ARRAY['[\"a\"]'::jsonb])::{s}.holder]"),  # the same, quoted in a composite
    ("r", "'pg_class'"),  # an object identifier: read back by its name, as then resolved
    ("acl", "ARRAY[makeaclitem('pg_monitor'::regrole, 'pg_monitor'::regrole, 'SELECT', false)]"),
    ("pr", "'[1,5)'"),  # printed by its own cast to json, read back by its input: as [1,5]
    ("jc", "ROW('{}  ', 1)"),  # json with white space, in a composite
    ("jc", r"""ROW('"\u0041"', 1)"""),  # a JSON string escaped, in a composite
]
KEPT = (
    "'{\"a\": null}'",
    "'{{1,2},{3,4}}'",
    '\'{NULL, "{\\"a\\": null}"}\'',
    r"""'["\\u0000", null]'""",  # (an escaped backslash: no NUL)
    "ROW('[1, null, 2]', '{1}')",  # (a null inside a JSON document is kept)
    "ARRAY[ROW(NULL, NULL)::{s}.pair, NULL]",
    "ARRAY['{}'::jsonb, NULL]",
    "ARRAY[ROW(ARRAY['{\"a\": [null]}'::jsonb, NULL])::{s}.holder]",
    "ROW('{a}', '[2024-01-01,2024-02-01)')",  # (a range in a composite: no JSON array)
)
PATHS = {"returning": "RETURNING old/new", "select": "read first (before PostgreSQL 18)"}


class Db:
    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn, self.schema = dsn, schema

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as con:
            cursor = con.execute(sql.replace("{s}", self.schema))
            return cursor.fetchall() if cursor.description else []

    def printed(self, table: str = "k") -> list[tuple[Any, ...]]:
        return self.run(f"SELECT t::text FROM {{s}}.{table} AS t ORDER BY 1")

    def stage(self, sql: str, path: str = "returning", options: str = "") -> Any:
        config = DbConfig(image_path=path)  # type: ignore[arg-type]
        dsn = make_conninfo(self.dsn, options=options) if options else self.dsn
        with goexdb.connect(dsn, config) as db:
            staged = db.stage(sql.replace("{s}", self.schema))
            record = staged.undo_record()
            staged.commit()
        return staged, record

    def undo(self, record: dict[str, Any], options: str = "") -> None:
        dsn = make_conninfo(self.dsn, options=options) if options else self.dsn
        with goexdb.connect(dsn, DbConfig()) as db:
            db.hold_undo(db.plan_undo(record)).commit()


@pytest.fixture
def db(pg_dsn: str) -> Iterator[Db]:
    schema = f"lossy_{uuid.uuid4().hex[:8]}"
    found = Db(pg_dsn, schema)
    found.run(f"CREATE SCHEMA {schema}")
    found.run(
        "CREATE TYPE {s}.pair AS (j jsonb, a int[]); CREATE DOMAIN {s}.d1 AS jsonb; "
        "CREATE DOMAIN {s}.d2 AS {s}.d1; CREATE TYPE {s}.holder AS (ja jsonb[]); "
        "CREATE TYPE {s}.slot AS (tags text[], during daterange); "
        "CREATE TYPE {s}.jc AS (j json, n int); "
        "CREATE TYPE {s}.pricer AS RANGE (subtype = numeric); "
        "CREATE FUNCTION {s}.pricer_json({s}.pricer) RETURNS json LANGUAGE sql "
        "AS 'SELECT json_build_array(lower($1), upper($1))'; "
        "CREATE CAST ({s}.pricer AS json) WITH FUNCTION {s}.pricer_json({s}.pricer); "
        "CREATE TABLE {s}.k (id int PRIMARY KEY, n int DEFAULT 0, v jsonb, a int[], "
        "ja jsonb[], j json, c {s}.pair, cs {s}.pair[], dd {s}.d2[], cp {s}.holder[], "
        "r regclass, pr {s}.pricer, sl {s}.slot, jc {s}.jc, acl aclitem[])"
    )
    yield found
    found.run(f"DROP SCHEMA {schema} CASCADE")


def _row(db: Db, id: int, column: str, value: str) -> None:
    db.run(f"INSERT INTO {{s}}.k (id, {column}) VALUES ({id}, {value.replace('{s}', db.schema)})")


def _refused(db: Db, staged: Any, record: dict[str, Any]) -> None:
    """The action said so before its decision, and its undo is refused, changing nothing."""
    assert not staged.reversible
    assert any("cannot keep exactly" in why for why in staged.effects.irreversible)
    after = db.printed()
    with pytest.raises(StateError, match="cannot keep exactly"):
        db.undo(record)
    assert db.printed() == after


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("column", "value"), LOST)
@pytest.mark.parametrize("verb", ["update", "delete"])
def test_a_row_holding_a_value_its_image_cannot_keep_makes_the_action_irreversible(
    db: Db, path: str, column: str, value: str, verb: str
) -> None:
    _row(db, 1, column, value)
    sql = {
        "update": "UPDATE {s}.k SET n = 1 WHERE id = 1",
        "delete": "DELETE FROM {s}.k WHERE id = 1",
    }
    _refused(db, *db.stage(sql[verb], path))


@pytest.mark.parametrize("path", PATHS)
def test_rows_whose_values_it_keeps_are_undone_exactly(db: Db, path: str) -> None:
    kept = ", ".join(KEPT).replace("{s}", db.schema)
    db.run(f"INSERT INTO {{s}}.k (id, v, a, ja, j, c, cs, dd, cp, sl) VALUES (1, {kept})")
    _row(db, 2, "v", "NULL")  # SQL NULL in every such column
    db.run(
        "INSERT INTO {s}.k (id, n, v, a, ja, j, c, cs, dd, cp, sl) "
        "SELECT 3, 0, v, a, ja, j, c, cs, dd, cp, sl FROM {s}.k WHERE id = 1"
    )
    before = db.printed()
    staged, record = db.stage(
        "UPDATE {s}.k SET n = 1, v = '1', a = '{7}', ja = '{}', j = '2', c = NULL, cs = '{}', "
        "dd = '{}' WHERE id < 3; DELETE FROM {s}.k WHERE id = 3",
        path,
    )
    assert staged.reversible, staged.effects.irreversible
    db.undo(record)
    assert db.printed() == before


def test_an_insert_of_such_a_value_makes_the_action_irreversible(db: Db) -> None:
    """Its after-image would not tell the undo's guard a JSON null from a later SQL NULL."""
    _refused(db, *db.stage("INSERT INTO {s}.k (id, v) VALUES (1, 'null')"))


def test_rows_a_trigger_changed_holding_such_a_value_make_the_action_irreversible(db: Db) -> None:
    """Read as images of the whole action (goexdb.backends.postgres.cascaded)."""
    _row(db, 1, "a", "'[0:1]={5,6}'")
    db.run(
        "CREATE TABLE {s}.w (id int PRIMARY KEY); "
        "CREATE FUNCTION {s}.bump() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN UPDATE {s}.k SET n = n + 1; RETURN NEW; END $$; "
        "CREATE TRIGGER bump AFTER INSERT ON {s}.w FOR EACH ROW EXECUTE FUNCTION {s}.bump()"
    )
    _refused(db, *db.stage("INSERT INTO {s}.w VALUES (1)"))


def test_rows_a_trigger_changed_whose_values_it_keeps_are_undone(db: Db) -> None:
    _row(db, 1, "a", "'{5,6}'")
    _row(db, 2, "v", "'[null]'")
    db.run(
        "CREATE TABLE {s}.w (id int PRIMARY KEY); "
        "CREATE FUNCTION {s}.bump() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN UPDATE {s}.k SET n = n + 1; RETURN NEW; END $$; "
        "CREATE TRIGGER bump AFTER INSERT ON {s}.w FOR EACH ROW EXECUTE FUNCTION {s}.bump()"
    )
    before = db.printed()
    staged, record = db.stage("INSERT INTO {s}.w VALUES (1)")
    assert staged.reversible, staged.effects.irreversible
    db.undo(record)
    assert db.printed() == before


def test_a_truncate_of_such_a_row_makes_the_action_irreversible(db: Db) -> None:
    _row(db, 1, "ja", "'{\"null\"}'")
    _refused(db, *db.stage("TRUNCATE {s}.k"))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("setting", "printed", "back", "kind", "value"),
    [
        ("extra_float_digits", "0", "1", "float8", "0.1::float8 + 0.2::float8"),
        ("DateStyle", "SQL,DMY", "SQL,MDY", "daterange", "daterange('2020-01-02', '2020-01-05')"),
        ("IntervalStyle", "sql_standard", "postgres", "interval", "interval '-1 day -02:03:04'"),
        ("DateStyle", "SQL,DMY", "SQL,MDY", "{s}.ddr", "{s}.ddr('2020-01-02', '2020-01-05')"),
    ],
)
def test_values_printed_while_a_trigger_changed_a_setting_make_the_action_irreversible(
    db: Db, path: str, setting: str, printed: str, back: str, kind: str, value: str
) -> None:
    """A row trigger changes the setting and a statement trigger puts it back: the images
    printed the rows under the one, and the undo, under the settings the action ended with,
    read them as other values (a float rounded, a day and month swapped) and printed them
    alike, so it exited 0."""
    db.run(  # (a range of a domain over date too)
        "CREATE DOMAIN {s}.day AS date; CREATE TYPE {s}.ddr AS RANGE (subtype = {s}.day); "
        f"CREATE TABLE {{s}}.f (id int PRIMARY KEY, n int DEFAULT 0, x {kind}); "
        f"INSERT INTO {{s}}.f VALUES (1, 0, {value}); "
        "CREATE FUNCTION {s}.setting() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM set_config(TG_ARGV[0], TG_ARGV[1], true); RETURN OLD; END $$; "
        f"CREATE TRIGGER printed BEFORE DELETE ON {{s}}.f FOR EACH ROW EXECUTE FUNCTION "
        f"{{s}}.setting('{setting}', '{printed}'); "
        f"CREATE TRIGGER back AFTER DELETE ON {{s}}.f EXECUTE FUNCTION "
        f"{{s}}.setting('{setting}', '{back}')"
    )
    staged, _ = db.stage("DELETE FROM {s}.f WHERE id = 1", path, options=f"-c {setting}={back}")
    assert not staged.reversible
    assert any("settings that change it" in why for why in staged.effects.irreversible)


@pytest.mark.parametrize("alias", ["old", "new"])
def test_a_statement_naming_a_relation_old_or_new_is_imaged_by_reading_its_rows_first(
    db: Db, alias: str
) -> None:
    """On PostgreSQL 18 RETURNING old and new then mean that relation's row: the images were of
    the row after, and an undo exited 0 leaving it so. Its rows are read first instead, as
    before 18, and the undo is exact."""
    _row(db, 1, "n", "0")
    _row(db, 2, "n", "0")
    db.run(f"CREATE FUNCTION {{s}}.{alias}() RETURNS TABLE (id int) LANGUAGE sql AS 'SELECT 1'")
    for sql in (
        f"UPDATE {{s}}.k AS {alias} SET n = 5 WHERE {alias}.id = 1",
        f"UPDATE {{s}}.k SET n = 6 FROM (SELECT 1 AS id) AS {alias} WHERE k.id = {alias}.id",
        f"UPDATE {{s}}.k SET n = 7 FROM {{s}}.{alias}() WHERE k.id = {alias}.id",  # its name
        f"DELETE FROM {{s}}.k AS {alias} WHERE {alias}.id = 2",
    ):
        before = db.printed()
        staged, record = db.stage(sql)
        assert staged.reversible, staged.effects.irreversible
        db.undo(record)
        assert db.printed() == before


@pytest.mark.parametrize(("imaged", "kept"), [("ISO,DMY", True), ("SQL,DMY", False)])
def test_a_range_of_dates_is_undone_exactly_or_irreversible_by_its_date_style(
    db: Db, imaged: str, kept: bool
) -> None:
    """A range prints its dates by DateStyle: imaged under SQL,DMY and undone under SQL,MDY,
    '01/02/2020' was read as the 2nd of January, and the read-back printed it alike. Printed
    in ISO, a date reads back the same under any order; printed otherwise, a trigger might have
    changed the order for a while, so the action is irreversible."""
    db.run("CREATE TABLE {s}.d (id int PRIMARY KEY, r daterange, ts tsrange)")
    db.run("INSERT INTO {s}.d VALUES (1, '[2020-02-01,2020-03-05)', '[2020-02-01 10:00,)')")
    before = db.printed("d")
    staged, record = db.stage("DELETE FROM {s}.d", options=f"-c DateStyle={imaged}")
    assert staged.reversible is kept, staged.effects.irreversible
    if kept:
        db.undo(record, options="-c DateStyle=SQL,MDY")
        assert db.printed("d") == before


def test_a_domain_over_such_a_type_is_seen_through(db: Db) -> None:
    db.run("CREATE DOMAIN {s}.doc AS jsonb; CREATE DOMAIN {s}.nums AS int[]")
    db.run("CREATE TABLE {s}.d (id int PRIMARY KEY, doc {s}.doc, nums {s}.nums)")
    db.run("INSERT INTO {s}.d VALUES (1, 'null', NULL), (2, NULL, '[3:3]={1}')")
    for id in (1, 2):
        staged, _ = db.stage(f"UPDATE {{s}}.d SET id = id WHERE id = {id}")
        assert not staged.reversible


@pytest.fixture
def moods(db: Db) -> Db:
    """A table whose enum values stand in a column of the enum, an array of a domain over it,
    and a composite holding one."""
    db.run(
        "CREATE TYPE {s}.mood AS ENUM ('a', 'b'); CREATE DOMAIN {s}.mood_d AS {s}.mood; "
        "CREATE TYPE {s}.felt AS (m {s}.mood, n int); "
        "CREATE TABLE {s}.m (id int PRIMARY KEY, one {s}.mood, many {s}.mood_d[], f {s}.felt);"
        "INSERT INTO {s}.m VALUES (1, 'a', NULL, NULL), (2, NULL, '{a}', NULL), "
        "(3, NULL, NULL, ROW('a', 1)), (4, 'b', '{b}', ROW('b', 2))"
    )
    return db


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("row", [1, 2, 3])
@pytest.mark.parametrize("verb", ["update", "delete"])
def test_an_enum_label_given_to_another_member_since_refuses_the_undo(
    moods: Db, path: str, row: int, verb: str
) -> None:
    """Its values are printed by label, and read back by label: the label 'a' renamed to 'z'
    after the commit, and 'a' made again as a new member, the undo would write back the new
    member, and the row would print as before (exit 0, other data). The members are kept
    with the images now, and the undo is refused, the rows left as they are."""
    sql = {"update": "UPDATE {s}.m SET id = id + 10", "delete": "DELETE FROM {s}.m"}
    staged, record = moods.stage(sql[verb] + f" WHERE id = {row}", path)
    assert staged.reversible, staged.effects.irreversible
    moods.run("ALTER TYPE {s}.mood RENAME VALUE 'a' TO 'z'; ALTER TYPE {s}.mood ADD VALUE 'a'")
    after = moods.printed("m")
    with pytest.raises(ConflictError, match=r"enum labels .* \('a' \(now 'z'\)\)"):
        moods.undo(record)
    assert moods.printed("m") == after


@pytest.mark.parametrize("path", PATHS)
def test_an_enum_given_a_value_since_is_undone_exactly(moods: Db, path: str) -> None:
    """A member added (the usual change to an enum) changes no label the images hold."""
    before = moods.printed("m")
    sql = "UPDATE {s}.m SET one = 'b', many = '{a,b}'; DELETE FROM {s}.m WHERE id = 3"
    staged, record = moods.stage(sql, path)
    assert staged.reversible, staged.effects.irreversible
    assert record["enums"]  # (kept: 'a' and 'b')
    moods.run("ALTER TYPE {s}.mood ADD VALUE 'c' BEFORE 'a'")
    moods.undo(record)
    assert moods.printed("m") == before
