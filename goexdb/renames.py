"""What an action's statements renamed, read from the statements themselves (a catalog diff
sees a rename as a drop and a create): ``renames`` lists them in order and follows each column
through them as itself; ``explained_by_renames`` says which catalog changes they account for;
``applies`` pins each to the images of the table it names, as the statements wrote it, for
``goexdb.renamed_images``; ``irreversible_by_renames`` says why an action whose renames cannot
be read so is irreversible.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp

from goexdb.effects import Effects, SchemaChange
from goexdb.engines import EngineFacts, engine_facts
from goexdb.sql import Statement, StatementKind, qualified


def renames(statements: Sequence[Statement], dialect: str) -> dict[str, list[list[str]]]:
    """Table and column renames, read from the statements (a catalog diff sees drop + create).
    Names are kept as SQL, quoted as written, so putting them back folds case the same way:
    ``tables`` [old table, its schema or "", old name, new name], ``columns`` [table, old, new],
    and ``order`` ([kind, index, the statement's place] in statement order), so undo can
    reverse them in turn and name the images taken before each as it left them
    (``goexdb.renamed_images``). Each column is followed through the renames as itself, not
    by name: the renames of a column the action added are kept apart (``new_columns``, for the
    images only: undo drops it), and ``net`` says where each column that was there before ended
    ([its table, its name before, its name after, "i" where names match whatever the case],
    names as the catalog folds them, and its schema where the statements gave one), which is
    what a catalog diff's drop and add mean."""
    facts = engine_facts(dialect)
    moved: dict[str, list[list[str]]] = {"tables": [], "columns": [], "new_columns": []}
    moved["order"] = []
    # per table (as written, followed through its renames): name now -> the column, which is
    # (name before the action, "") or ("", a number of the action's own for one it added)
    now: dict[tuple[str | None, str], dict[str, tuple[str, str]]] = {}
    made: set[tuple[str | None, str]] = set()  # tables the action created: no column was there
    for place, statement in enumerate(statements):
        tree = statement.ast
        if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "TABLE":
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            if isinstance(target, exp.Table):
                made.add(_written_key(target, facts))
        if not isinstance(tree, exp.Alter) or not isinstance(tree.this, exp.Table):
            continue
        table = tree.this
        columns = now.setdefault(_written_key(table, facts), {})
        fresh = _written_key(table, facts) in made
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                columns[_folded(facts, action.this)] = ("", str(place))
                continue
            if isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
                for dropped in action.args.get("tables") or []:
                    columns.pop(_folded(facts, dropped.this), None)
                continue
            if isinstance(action, exp.AlterRename) and isinstance(action.this, exp.Table):
                schema = table.args.get("db")
                entry = [
                    "tables",
                    qualified(table, dialect),
                    schema.sql(dialect=dialect) if schema is not None else "",
                    table.this.sql(dialect=dialect),
                    action.this.this.sql(dialect=dialect),
                ]
                key = _written_key(table, facts)
                now[(key[0], _folded(facts, action.this.this))] = now.pop(key, {})
                if fresh:
                    made.add((key[0], _folded(facts, action.this.this)))
            elif isinstance(action, exp.RenameColumn):
                old, new = action.this.this, action.args["to"].this
                entry = ["columns", qualified(table, dialect)]
                entry += [old.sql(dialect=dialect), new.sql(dialect=dialect)]
                kept = ("", "") if fresh else (_folded(facts, old), "")  # (its name before)
                column = columns.pop(_folded(facts, old), kept)
                columns[_folded(facts, new)] = column
                if not column[0]:  # one the action added
                    entry[0] = "new_columns"
            else:
                continue
            moved["order"].append([entry[0], str(len(moved[entry[0]])), str(place)])
            moved[entry[0]].append(entry[1:])
    case = "" if facts.folds_unquoted else "i"
    moved["net"] = [
        [name, before, after, case, schema or ""]
        for (schema, name), columns in now.items()
        for after, (before, _) in columns.items()
        if before and before != after
    ]
    return moved


def applies(statements: Sequence[Statement], effects: Effects, dialect: str) -> list[list[str]]:
    """Which renames after a statement's images name their table (``goexdb.renamed_images``
    names the images anew by them): [the images' place in ``effects.images``, the renames'
    places in ``order``...]. A rename names the table as the statement that changed the rows
    wrote it (schema or none, then name: both resolve alike under the action's one search
    path), or as an earlier rename renamed it; any other spelling is not taken for it
    (``unpinned``)."""
    return [
        [str(place), *map(str, found)] for place, found, _ in _pinned(statements, effects, dialect)
    ]


def unpinned(statements: Sequence[Statement], effects: Effects, dialect: str) -> list[str]:
    """Why an action is irreversible for its renames: one after a statement's images names a
    table of their table's name in another spelling, which goex cannot tell is theirs."""
    return [why for _, _, whys in _pinned(statements, effects, dialect) for why in whys]


def _pinned(
    statements: Sequence[Statement], effects: Effects, dialect: str
) -> list[tuple[int, list[int], list[str]]]:
    moved = renames(statements, dialect)
    facts = engine_facts(dialect)
    found = []
    for place, images in enumerate(effects.images):
        if images.statement < 0 or not images.images or images.statement >= len(statements):
            continue
        target = statements[images.statement].image_target
        key = _written_key(target, facts) if target is not None else None
        steps, whys = [], []
        for at, (kind, index, where) in enumerate(moved["order"]):
            entry = moved[kind][int(index)]
            renamed = _written_key(exp.to_table(entry[0], dialect=dialect), facts)
            if int(where) <= images.statement or key is None or renamed[1] != key[1]:
                continue
            if renamed != key:
                whys.append(
                    f"{entry[0]} is renamed after statement {images.statement + 1} changed rows "
                    f"of {images.table}, written otherwise: goex cannot tell it is the same table"
                )
            elif kind == "tables":
                key = (key[0], _folded(facts, exp.parse_identifier(entry[3], dialect=dialect)))
                steps.append(at)
            else:
                steps.append(at)
        found.append((place, steps, whys))
    return found


def _beside_table_renames(statements: Sequence[Statement], dialect: str) -> list[str]:
    """An undo renames a renamed table back, and takes back nothing else of it (a column
    added, an index dropped) in the order it would need. Such an action is irreversible."""
    renamed = {
        _norm(name) for entry in renames(statements, dialect)["tables"] for name in entry[2:]
    }
    reasons = []
    for statement in statements:
        tree = statement.ast
        if not renamed or statement.kind is not StatementKind.DDL or tree is None:
            continue
        actions = tree.args.get("actions") or [] if isinstance(tree, exp.Alter) else [tree]
        if all(isinstance(a, exp.AlterRename | exp.RenameColumn) for a in actions):
            continue
        if {_norm(t.name) for t in tree.find_all(exp.Table)} & renamed:
            reasons.append(
                f"{statement.sql.strip()[:60]}: changes a table the action renames, and goex "
                "undoes only the renames of a renamed table"
            )
    return reasons


def _columns_unfollowed(statements: Sequence[Statement], dialect: str) -> list[str]:
    """Where the engine does not number columns for good (DuckDB), the catalog diff follows a
    column by its name: one added under a name another had (renamed away or dropped), or
    renamed into a dropped one's, reads as that one; and a renamed column's other changes (its
    type, its default) are not seen. Undo would not put them back: the action is irreversible."""
    if engine_facts(dialect).keeps_column_numbers:
        return []  # the catalog diff follows each column by its number
    # (table, column), as _norm has them
    dropped: set[tuple[str, str]] = set()
    vacated: set[tuple[str, str]] = set()  # renamed away
    added: set[tuple[str, str]] = set()
    renamed: set[tuple[str, str]] = set()
    altered: set[tuple[str, str]] = set()
    reasons = []
    for statement in statements:
        tree = statement.ast
        if not isinstance(tree, exp.Alter) or not isinstance(tree.this, exp.Table):
            continue
        table = _norm(tree.this.name)
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.RenameColumn):
                old, new = (table, _norm(action.this.name)), (table, _norm(action.args["to"].name))
                if new in dropped:
                    reasons.append(
                        f"column {new[1]} of {table} is dropped, and {old[1]} renamed to it"
                    )
                vacated.add(old)
                renamed.update((old, new) if old not in added else ())
                added.update((new,) if old in added else ())
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
                gone = {(table, _norm(c.name)) for c in action.args.get("tables") or []} - added
                reasons += [f"column {c} of {t}, renamed, is dropped" for t, c in gone & renamed]
                dropped.update(gone)
            elif isinstance(action, exp.ColumnDef):
                if (table, _norm(action.name)) in dropped | vacated:
                    reasons.append(
                        f"column {action.name} is added to {tree.this.name} under the name of a "
                        "column the action renamed or dropped"
                    )
                added.add((table, _norm(action.name)))
            elif isinstance(action, exp.AlterColumn):
                altered.add((table, _norm(action.this.name)))
    reasons += [f"column {c} of {t} is renamed and altered" for t, c in sorted(altered & renamed)]
    suffix = ", which DuckDB's catalog, read by name, cannot tell apart"
    return [reason + suffix for reason in reasons]


def _written_key(table: exp.Table, facts: EngineFacts) -> tuple[str | None, str]:
    """A table as a statement wrote it: its schema if given, and its name, as the catalog folds
    them (compared without regard to case where the engine does)."""
    schema = table.args.get("db")
    return (_folded(facts, schema) if schema is not None else None, _folded(facts, table.this))


def _folded(facts: EngineFacts, identifier: exp.Identifier) -> str:
    name = facts.catalog_name(identifier)
    return name if facts.folds_unquoted else name.casefold()


def bare(name: str) -> str:
    return name.rpartition(".")[2]


def renamed_tables(statement: Statement, dialect: str) -> list[tuple[str, str]]:
    """The tables a statement renames: each as written, and its new name as written."""
    return [(entry[0], entry[3]) for entry in renames([statement], dialect)["tables"]]


def _moved_with_table(
    change: SchemaChange, other: SchemaChange, moved: dict[str, list[list[str]]]
) -> bool:
    """Whether a constraint dropped is the one created under the names the renames gave (DuckDB
    names a constraint after its table and columns: ``orders_id_pkey``, ``ck_v_not_null``), or
    the other way round: the table, name and definition the same once renamed."""
    dropped, created = (change, other) if change.change == "constraint_dropped" else (other, change)
    if (dropped.change, created.change) != ("constraint_dropped", "constraint_created"):
        return False
    words = [(_norm(old), _norm(new)) for _, _, old, new in moved["tables"]]
    words += [(net[1].casefold(), net[2].casefold()) for net in moved.get("net", [])]
    if not words:
        return False

    def renamed(text: str) -> str:
        for old, new in words:  # (an underscore parts words here: ck_v_not_null)
            text = re.sub(rf"(?<![a-z0-9]){re.escape(old)}(?![a-z0-9])", new, text)
        return text

    return (
        renamed(_norm(bare(dropped.table))) == _norm(bare(created.table))
        and renamed(_norm(dropped.name or "")) == _norm(created.name or "")
        and renamed((dropped.before or "").casefold()) == (created.after or "").casefold()
        and (dropped.table, dropped.name) != (created.table, created.name)
    )


def _in_schema(table: str, schema: str) -> bool:
    """Whether a catalog name (schema.table) is in a schema a statement named."""
    return _norm(table.rpartition(".")[0]) == _norm(schema)


def _bare_is(table: str, bare_name: str) -> bool:
    return _norm(bare(table)) == bare_name


def _norm(name: str) -> str:
    """An identifier as SQL or as the catalog spells it, compared without quotes or case."""
    return name.strip('"').replace('""', '"').casefold()


def explained_by_renames(
    change: SchemaChange,
    moved: dict[str, list[list[str]]],
    changes: Sequence[SchemaChange],
    followed: EngineFacts | None,
) -> bool:
    """Whether a change the catalog diff shows is a rename's (``changes``: all of the action's,
    where a constraint the catalog names after its table is dropped and made again). A table
    or column the catalog followed through a rename (``table_renamed``, ``column_renamed``) is
    explained where the statements' renames take its name before to its name after; then
    (``followed``: the engine whose diff followed tables, and columns where it numbers them for
    good) a table, or such a column, dropped or created is what it says. ``followed`` is None
    for an action journaled before, whose diff went by name, where a rename read as both."""
    if followed is not None:  # what the diff followed through renames is what it says
        kept: tuple[str, ...] = ("table_dropped", "table_created")
        kept += ("column_dropped", "column_added") if followed.keeps_column_numbers else ()
        if change.change in kept:
            return False
    if change.change == "table_renamed":
        return followed is not None and _table_renamed(change, moved, changes, followed)
    if change.change == "column_renamed":
        return followed is not None and _column_renamed(change, moved, changes, followed)
    return _explained(change, moved, changes)


def _table_renamed(
    change: SchemaChange,
    moved: dict[str, list[list[str]]],
    changes: Sequence[SchemaChange],
    facts: EngineFacts,
) -> bool:
    """Whether the statements' table renames, in turn, take the table's name before to its
    name after, in its schema. A rename without a schema that could be another renamed table's
    of the same name (its schema is the search path's) is taken for neither."""
    schema, _, name = (change.before or "").rpartition(".")
    if schema != change.table.rpartition(".")[0]:
        return False  # moved to another schema: no RENAME does that
    renamed = [c.before or "" for c in changes if c.change == change.change]
    for _, written_schema, old, new in moved["tables"]:
        if written_schema and not facts.same_name(schema, _catalog(facts, written_schema)):
            continue
        if facts.same_name(name, _catalog(facts, old)):
            if not written_schema and sum(facts.same_name(bare(t), name) for t in renamed) > 1:
                return False
            name = _catalog(facts, new)
    return facts.same_name(bare(change.table), name)


def _column_renamed(
    change: SchemaChange,
    moved: dict[str, list[list[str]]],
    changes: Sequence[SchemaChange],
    facts: EngineFacts,
) -> bool:
    """Whether one of the statements' column renames, followed to its end (``renames()["net"]``),
    takes this column of this table from its name before to its name after. One without a
    schema that could be another table's of the same name is taken for neither."""

    def fits(net: list[str], other: SchemaChange) -> bool:
        return (
            facts.same_name(bare(other.table), net[0])
            and facts.same_name(other.before or "", net[1])
            and facts.same_name(other.after or "", net[2])
            and (not net[4] or facts.same_name(other.table.rpartition(".")[0], net[4]))
        )

    for net in moved.get("net", []):
        if fits(net, change):
            alike = [c for c in changes if c.change == change.change and fits(net, c)]
            return bool(net[4]) or len(alike) == 1
    return False


def _catalog(facts: EngineFacts, written: str) -> str:
    """A name as SQL wrote it, as the catalog keeps it."""
    return facts.catalog_name(exp.parse_identifier(written, dialect=facts.dialect))


def _explained(
    change: SchemaChange, moved: dict[str, list[list[str]]], changes: Sequence[SchemaChange]
) -> bool:
    table = _norm(bare(change.table))
    if change.change in ("constraint_dropped", "constraint_created"):
        return any(_moved_with_table(change, other, moved) for other in changes)
    if change.change in ("index_changed", "constraint_changed"):
        renamed = change.before or ""
        for _, _, old, new in moved["tables"]:
            renamed = re.sub(rf"\b{re.escape(_norm(old))}\b", _norm(new), renamed, flags=re.I)
        for _, old_column, new_column in moved["columns"]:
            renamed = re.sub(
                rf"\b{re.escape(_norm(old_column))}\b", _norm(new_column), renamed, flags=re.I
            )
        return renamed.casefold() == (change.after or "").casefold()
    if change.change in ("table_dropped", "table_created"):
        side = 2 if change.change == "table_dropped" else 3
        alike = [c for c in changes if c.change == change.change and _bare_is(c.table, table)]
        return any(
            _norm(entry[side]) == table
            and (_in_schema(change.table, entry[1]) if entry[1] else len(alike) <= 1)
            for entry in moved["tables"]
        )
    if change.change in ("column_dropped", "column_added") and "net" in moved:
        return bool(_nets(change, moved, changes))
    if change.change in ("column_dropped", "column_added"):  # (a record from before ``net``)
        side = 1 if change.change == "column_dropped" else 2
        tables = {_norm(entry[2]) for entry in moved["tables"]} | {
            _norm(entry[3]) for entry in moved["tables"]
        }
        return any(
            _norm(change.name or "") == _norm(triple[side])
            and table in ({_norm(bare(triple[0]))} | tables)
            for triple in moved["columns"]
        )
    return False


def _nets(
    change: SchemaChange, moved: dict[str, list[list[str]]], changes: Sequence[SchemaChange]
) -> list[list[str]]:
    """The columns' net renames (``renames()["net"]``) that take a column from the name a
    ``column_dropped`` has, or to the name a ``column_added`` has; none where that name is not
    pinned to one table."""
    side = 1 if change.change == "column_dropped" else 2
    table = _norm(bare(change.table))
    tables = {_norm(entry[2]) for entry in moved["tables"]} | {
        _norm(entry[3]) for entry in moved["tables"]
    }
    found = []
    for net in moved["net"]:
        name = (change.name or "").casefold() if net[3] else change.name or ""
        schema = net[4] if len(net) > 4 else ""
        if schema and not _in_schema(change.table, schema):
            continue
        alike = [c for c in changes if (c.change, c.name) == (change.change, change.name)]
        if not schema and len([c for c in alike if _bare_is(c.table, table)]) > 1:
            return []  # a name the rename did not pin to one table: not taken for it
        if name == net[side] and table in ({net[0].casefold()} | tables):
            found.append(net)
    return found


def irreversible_by_renames(
    statements: Sequence[Statement], effects: Effects, dialect: str
) -> list[str]:
    """Why the renames make an action irreversible: one that names an imaged table otherwise
    than its statement did; a renamed table changed otherwise too; a vacated name reused."""
    reasons = unpinned(statements, effects, dialect) + _beside_table_renames(statements, dialect)
    return reasons + _columns_unfollowed(statements, dialect)
