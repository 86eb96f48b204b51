"""What an action's statements renamed, read from the statements themselves (a catalog diff
sees a rename as a drop and a create): ``renames`` lists them in order and follows each column
through them as itself (``goexdb.explained`` says which catalog changes they account for);
``applies`` pins each to the images of the table it names, as the statements wrote it, for
``goexdb.renamed_images``; ``irreversible_by_renames`` says why an action whose renames cannot
be read so is irreversible.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlglot import exp

from goexdb.effects import Effects
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
    renamed = {norm(name) for entry in renames(statements, dialect)["tables"] for name in entry[2:]}
    reasons = []
    for statement in statements:
        tree = statement.ast
        if not renamed or statement.kind is not StatementKind.DDL or tree is None:
            continue
        actions = tree.args.get("actions") or [] if isinstance(tree, exp.Alter) else [tree]
        if all(isinstance(a, exp.AlterRename | exp.RenameColumn) for a in actions):
            continue
        if {norm(t.name) for t in tree.find_all(exp.Table)} & renamed:
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
    # (table, column), as norm has them
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
        table = norm(tree.this.name)
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.RenameColumn):
                old, new = (table, norm(action.this.name)), (table, norm(action.args["to"].name))
                if new in dropped:
                    reasons.append(
                        f"column {new[1]} of {table} is dropped, and {old[1]} renamed to it"
                    )
                vacated.add(old)
                renamed.update((old, new) if old not in added else ())
                added.update((new,) if old in added else ())
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
                gone = {(table, norm(c.name)) for c in action.args.get("tables") or []} - added
                reasons += [f"column {c} of {t}, renamed, is dropped" for t, c in gone & renamed]
                dropped.update(gone)
            elif isinstance(action, exp.ColumnDef):
                if (table, norm(action.name)) in dropped | vacated:
                    reasons.append(
                        f"column {action.name} is added to {tree.this.name} under the name of a "
                        "column the action renamed or dropped"
                    )
                added.add((table, norm(action.name)))
            elif isinstance(action, exp.AlterColumn):
                altered.add((table, norm(action.this.name)))
    reasons += [f"column {c} of {t} is renamed and altered" for t, c in sorted(altered & renamed)]
    suffix = ", which DuckDB's catalog, read by name, cannot tell apart"
    return [reason + suffix for reason in reasons]


def _written_key(table: exp.Table, facts: EngineFacts) -> tuple[str | None, str]:
    """A table as a statement wrote it: its schema if given, and its name, as the catalog folds
    them (compared without regard to case where the engine does)."""
    schema = table.args.get("db")
    return (_folded(facts, schema) if schema is not None else None, _folded(facts, table.this))


def _folded(facts: EngineFacts, identifier: exp.Identifier) -> str:
    return _catalog_key(facts.catalog_name(identifier), facts)


def bare(name: str) -> str:
    return name.rpartition(".")[2]


def renamed_tables(statement: Statement, dialect: str) -> list[tuple[str, str]]:
    """The tables a statement renames: each as written, and its new name as written."""
    return [(entry[0], entry[3]) for entry in renames([statement], dialect)["tables"]]


def renamed_since(written: str, later: Sequence[Statement], dialect: str) -> str:
    """A table as a statement wrote it, named anew by the ``later`` statements' renames of it,
    spelled as it was (schema or none, then name: as ``applies`` pins them)."""
    facts = engine_facts(dialect)
    table = exp.to_table(written, dialect=dialect)
    for statement in later:
        for old, new in renamed_tables(statement, dialect):
            if _written_key(exp.to_table(old, dialect=dialect), facts) == _written_key(
                table, facts
            ):
                table = table.copy()
                table.set("this", exp.parse_identifier(new, dialect=dialect))
    return table.sql(dialect=dialect)


def norm(name: str) -> str:
    """An identifier as SQL or as the catalog spells it, compared without quotes or case."""
    return name.strip('"').replace('""', '"').casefold()


def irreversible_by_renames(
    statements: Sequence[Statement], effects: Effects, dialect: str
) -> list[str]:
    """Why the renames make an action irreversible: one that names an imaged table otherwise
    than its statement did; a renamed table changed otherwise too; a vacated name reused; and
    a column the action added and dropped again, under whatever names, in its rows' images."""
    reasons = unpinned(statements, effects, dialect) + _beside_table_renames(statements, dialect)
    return (
        reasons
        + _columns_unfollowed(statements, dialect)
        + _imaged_and_dropped(statements, effects, dialect)
    )


def _imaged_and_dropped(
    statements: Sequence[Statement], effects: Effects, dialect: str
) -> list[str]:
    """A column the action added, wrote rows of, and dropped again is in those rows' images,
    which the undo could not write back (the table no longer has it)."""
    facts, reasons = engine_facts(dialect), []
    for table, names in _added_and_dropped(statements, facts):
        for images in effects.images:
            first = images.images[0] if images.images else None
            image = first and (first.before or first.after)
            if not image or _catalog_key(bare(images.table), facts) != table:
                continue
            if any(_catalog_key(key, facts) in names for key in json.loads(image)):
                reasons.append(
                    f"column {sorted(names)[0]} of {table}, which the action added and dropped "
                    "again, is in the images of rows it wrote: the undo cannot write them back"
                )
    return list(dict.fromkeys(reasons))


def _added_and_dropped(
    statements: Sequence[Statement], facts: EngineFacts
) -> list[tuple[str, set[str]]]:
    """The columns the action added and dropped again: each table's name and every name the
    column had, as the catalog folds them (a table by its name alone, whatever schema a
    statement wrote, and followed through its renames: a column of a namesake may be taken
    for one, never one missed)."""
    added: dict[str, dict[str, set[str]]] = {}  # table -> the column's name now -> its names
    found, made = [], set()  # (a table the action made goes with its rows)
    for statement in statements:
        tree = statement.ast
        if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "TABLE":
            created = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            made |= {_folded(facts, created.this)} if isinstance(created, exp.Table) else set()
        if not isinstance(tree, exp.Alter) or not isinstance(tree.this, exp.Table):
            continue
        table = _folded(facts, tree.this.this)
        columns = added.setdefault(table, {})
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                name = _folded(facts, action.this)
                columns[name] = {name}
            elif isinstance(action, exp.RenameColumn):
                old, new = _folded(facts, action.this.this), _folded(facts, action.args["to"].this)
                if old in columns:
                    columns[new] = columns.pop(old) | {new}
            elif isinstance(action, exp.AlterRename) and isinstance(action.this, exp.Table):
                table = _folded(facts, action.this.this)
                added[table] = columns = added.pop(_folded(facts, tree.this.this), {})
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
                for dropped in action.args.get("tables") or []:
                    names = columns.pop(_folded(facts, dropped.this), None)
                    found += [(table, names)] if names and table not in made else []
    return found


def _catalog_key(name: str, facts: EngineFacts) -> str:
    """A name as the catalog keeps it, as names are compared: without regard to case where
    the engine does not fold unquoted names."""
    return name if facts.folds_unquoted else name.casefold()
