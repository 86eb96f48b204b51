"""Rules for statements that destroy data, break the application code still running against
the old schema, fail when run twice, or fail at run time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from sqlglot import exp

from core.policy import Severity
from goexdb.lint.base import Problem, Rule, RuleInfo
from goexdb.lint.context import Context, alter_actions

MAX_IDENTIFIER_BYTES = 63


RENAMING_COLUMN = RuleInfo(
    "renaming-column",
    Severity.ERROR,
    "renaming a column breaks the code that still uses the old name while the migration deploys",
    "add the new column, write both, move readers over, then drop the old one",
)


def renaming_column(ctx: Context) -> Iterator[Problem]:
    for action in alter_actions(ctx):
        if isinstance(action, exp.RenameColumn):
            yield (
                f"renaming column {action.this.name} breaks code that still uses the old name",
                action,
            )


RENAMING_TABLE = RuleInfo(
    "renaming-table",
    Severity.ERROR,
    "renaming a table breaks the code that still uses the old name while the migration deploys",
    "create the new table (or a view with the old name) and move readers over first",
)


def renaming_table(ctx: Context) -> Iterator[Problem]:
    if any(isinstance(a, exp.AlterRename) for a in alter_actions(ctx)):
        yield "renaming the table breaks code that still uses the old name"


def _dropped(ctx: Context, kind: str) -> bool:
    tree = ctx.tree
    return isinstance(tree, exp.Drop) and str(tree.args.get("kind")).upper() == kind


BAN_DROP_DATABASE = RuleInfo(
    "ban-drop-database",
    Severity.ERROR,
    "DROP DATABASE destroys a whole database",
    "drop databases by hand, never from a migration",
)


def ban_drop_database(ctx: Context) -> Iterator[Problem]:
    if _dropped(ctx, "DATABASE"):
        yield "DROP DATABASE destroys every table in it"


BAN_DROP_TABLE = RuleInfo(
    "ban-drop-table",
    Severity.ERROR,
    "DROP TABLE destroys the table's data and breaks code that still reads it",
    "stop using the table first; drop it in a later, separate migration (or rename it aside)",
)


def ban_drop_table(ctx: Context) -> Iterator[Problem]:
    tree = ctx.tree
    if _dropped(ctx, "TABLE") and isinstance(tree, exp.Drop):
        for table in tree.args.get("tables") or []:
            if not (isinstance(table, exp.Table) and ctx.created_here(table)):
                yield f"DROP TABLE destroys {table.sql(dialect='postgres')} and its data"


BAN_DROP_COLUMN = RuleInfo(
    "ban-drop-column",
    Severity.ERROR,
    "DROP COLUMN destroys the column's data and breaks code that still reads it",
    "stop using the column first; drop it in a later, separate migration",
)


def ban_drop_column(ctx: Context) -> Iterator[Problem]:
    for action in alter_actions(ctx):
        if isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
            for column in action.args.get("tables") or []:
                yield f"DROP COLUMN destroys column {column.name} and its data", column


BAN_DROP_NOT_NULL = RuleInfo(
    "ban-drop-not-null",
    Severity.WARNING,
    "DROP NOT NULL (on a column or a domain) lets in NULLs that existing code does not expect",
    "keep the column NOT NULL with a marker value, or make sure every reader handles NULL",
)


def ban_drop_not_null(ctx: Context) -> Iterator[Problem]:
    for action in alter_actions(ctx):
        dropped = isinstance(action, exp.AlterColumn) and action.args.get("drop")
        if dropped and action.args.get("allow_null"):
            yield (
                f"DROP NOT NULL on column {action.name} lets NULLs reach code that assumed none",
                action,
            )
    if ctx.starts_with("ALTER", "DOMAIN") and ctx.has_sequence("DROP", "NOT", "NULL"):
        yield "DROP NOT NULL on the domain lets NULLs reach code that assumed none"


BAN_TRUNCATE_CASCADE = RuleInfo(
    "ban-truncate-cascade",
    Severity.ERROR,
    "TRUNCATE ... CASCADE also empties every table with a foreign key to it, recursively",
    "truncate the tables you mean by name, without CASCADE",
)


def ban_truncate_cascade(ctx: Context) -> Iterator[Problem]:
    tree = ctx.tree
    if isinstance(tree, exp.TruncateTable) and str(tree.args.get("option")).upper() == "CASCADE":
        yield "TRUNCATE ... CASCADE empties every table that references these, too"


PREFER_ROBUST_STMTS = RuleInfo(
    "prefer-robust-stmts",
    Severity.WARNING,
    "outside a transaction, a statement without IF [NOT] EXISTS fails when a half-applied "
    "migration is run again",
    "use IF NOT EXISTS / IF EXISTS, or run the migration in one transaction",
)


def prefer_robust_stmts(ctx: Context) -> Iterator[Problem]:
    if ctx.in_transaction() or ctx.state.statements < 2:
        return  # a single statement runs in an implicit transaction of its own
    tree = ctx.tree
    if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() in ("TABLE", "INDEX"):
        if not tree.args.get("exists"):
            yield f"CREATE {tree.args['kind']} without IF NOT EXISTS fails when run again"
    elif isinstance(tree, exp.Drop) and not tree.args.get("exists"):
        yield f"DROP {tree.args.get('kind')} without IF EXISTS fails when run again"
    for action in alter_actions(ctx):
        if isinstance(action, exp.ColumnDef) and not action.args.get("exists"):
            yield f"ADD COLUMN {action.name} without IF NOT EXISTS fails when run again", action
        elif isinstance(action, exp.Drop) and not action.args.get("exists"):
            yield f"DROP {action.args.get('kind')} without IF EXISTS fails when run again"
        elif isinstance(action, exp.AddConstraint):
            for constraint in action.expressions:
                name = constraint.name.lower() if isinstance(constraint, exp.Constraint) else ""
                if name not in ctx.state.dropped_constraints:
                    yield (
                        "ADD CONSTRAINT fails when run again; DROP CONSTRAINT IF EXISTS it first"
                    )


BAN_DUPLICATE_COLUMN_ASSIGNMENTS = RuleInfo(
    "ban-duplicate-column-assignments",
    Severity.ERROR,
    "a column declared or assigned twice in one statement is an error at run time",
    "remove the duplicate",
)


def ban_duplicate_column_assignments(ctx: Context) -> Iterator[Problem]:
    tree = ctx.tree
    names: list[exp.Expr] = []
    if isinstance(tree, exp.Create | exp.Insert) and isinstance(tree.this, exp.Schema):
        names = [e.this if isinstance(e, exp.ColumnDef) else e for e in tree.this.expressions]
    elif isinstance(tree, exp.Update):
        for assignment in tree.expressions:
            target = assignment.this
            names.extend(target.expressions if isinstance(target, exp.Tuple) else [target])
    elif isinstance(tree, exp.Alter):
        names = [a.this for a in tree.args.get("actions") or [] if isinstance(a, exp.ColumnDef)]
    for name, count in Counter(_folded(names)).items():
        if count > 1:
            yield f"column {name} appears {count} times"


def _folded(nodes: Iterable[exp.Expr]) -> Iterator[Problem]:
    for node in nodes:
        identifier = node.this if isinstance(node, exp.Column) else node
        if isinstance(identifier, exp.Identifier):
            yield identifier.this if identifier.quoted else identifier.this.lower()


IDENTIFIER_TOO_LONG = RuleInfo(
    "identifier-too-long",
    Severity.WARNING,
    "PostgreSQL silently truncates identifiers longer than 63 bytes",
    "use a name of at most 63 bytes",
)


def identifier_too_long(ctx: Context) -> Iterator[Problem]:
    tree = ctx.tree
    names: list[str] = []
    if isinstance(tree, exp.Create | exp.Alter) and not ctx.command:
        names = [i.this for i in tree.find_all(exp.Identifier)]
    elif ctx.command and (ctx.starts_with("CREATE") or ctx.starts_with("ALTER")):
        names = [w.text for w in ctx.words if w.quoted or w.keyword]
    for name in dict.fromkeys(names):
        if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            yield (
                f"identifier {name[:20]}… is {len(name.encode('utf-8'))} bytes and would be "
                f"truncated to {MAX_IDENTIFIER_BYTES}"
            )


REQUIRE_ENUM_VALUE_ORDERING = RuleInfo(
    "require-enum-value-ordering",
    Severity.WARNING,
    "ALTER TYPE ... ADD VALUE without BEFORE or AFTER appends the value, which changes what "
    "comparisons and ORDER BY on the enum mean",
    "say where the value goes: ADD VALUE 'x' BEFORE 'y' (or AFTER)",
)


def require_enum_value_ordering(ctx: Context) -> Iterator[Problem]:
    positioned = {"BEFORE", "AFTER"} & set(ctx.keywords)
    if ctx.starts_with("ALTER", "TYPE") and ctx.has_sequence("ADD", "VALUE") and not positioned:
        yield "the new enum value is appended at the end of the ordering"


RULES: tuple[Rule, ...] = (
    Rule(RENAMING_COLUMN, renaming_column),
    Rule(RENAMING_TABLE, renaming_table),
    Rule(BAN_DROP_DATABASE, ban_drop_database),
    Rule(BAN_DROP_TABLE, ban_drop_table),
    Rule(BAN_DROP_COLUMN, ban_drop_column),
    Rule(BAN_DROP_NOT_NULL, ban_drop_not_null),
    Rule(BAN_TRUNCATE_CASCADE, ban_truncate_cascade),
    Rule(PREFER_ROBUST_STMTS, prefer_robust_stmts),
    Rule(BAN_DUPLICATE_COLUMN_ASSIGNMENTS, ban_duplicate_column_assignments),
    Rule(IDENTIFIER_TOO_LONG, identifier_too_long),
    Rule(REQUIRE_ENUM_VALUE_ORDERING, require_enum_value_ordering),
)
