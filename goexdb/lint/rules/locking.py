"""Rules for statements that lock a busy table for long or rewrite it.

Each rule is a check function and a ``RuleInfo`` with its squawk id and default severity, paired
in ``RULES``.
Tables created earlier in the same file are new and empty, so most of these skip them.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from core.policy import Severity
from goexdb.lint.base import Problem, Rule, RuleInfo
from goexdb.lint.context import (
    Context,
    added_columns,
    added_constraints,
    alter_actions,
    altered_table,
    column_constraints,
)

# Functions whose value differs per row: a default that calls one fills every row on ADD COLUMN.
_VOLATILE = (exp.Rand, exp.Uuid)
_VOLATILE_NAMES = frozenset(
    {
        "random",
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "txid_current",
        "setseed",
    }
)
# Functions known not to be volatile (STABLE: evaluated once per statement, no rewrite).
_STABLE_NAMES = frozenset({"now", "transaction_timestamp", "statement_timestamp"})


REQUIRE_CONCURRENT_INDEX_CREATION = RuleInfo(
    "require-concurrent-index-creation",
    Severity.ERROR,
    "CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds",
    "use CREATE INDEX CONCURRENTLY (outside a transaction block)",
)


def require_concurrent_index_creation(ctx: Context) -> Iterator[Problem]:
    tree = ctx.tree
    if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "INDEX":
        index = tree.this
        table = index.args.get("table") if isinstance(index, exp.Index) else None
        if not tree.args.get("concurrently") and not ctx.created_here(table):
            yield "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds"


REQUIRE_CONCURRENT_INDEX_DELETION = RuleInfo(
    "require-concurrent-index-deletion",
    Severity.ERROR,
    "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table",
    "use DROP INDEX CONCURRENTLY (outside a transaction block)",
)


def require_concurrent_index_deletion(ctx: Context) -> Iterator[Problem]:
    tree = ctx.tree
    index = isinstance(tree, exp.Drop) and str(tree.args.get("kind")).upper() == "INDEX"
    if index and tree is not None and not tree.args.get("concurrently"):
        yield "DROP INDEX without CONCURRENTLY blocks reads and writes of the table"


CONSTRAINT_MISSING_NOT_VALID = RuleInfo(
    "constraint-missing-not-valid",
    Severity.ERROR,
    "a CHECK or FOREIGN KEY constraint added without NOT VALID scans the table under a lock "
    "that blocks writes; a NOT VALID constraint validated in the same file defeats the point",
    "add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later migration",
)


def constraint_missing_not_valid(ctx: Context) -> Iterator[Problem]:
    not_valid = ctx.tree is not None and bool(ctx.tree.args.get("not_valid"))
    for constraint in added_constraints(ctx):
        if isinstance(constraint, exp.CheckColumnConstraint | exp.ForeignKey) and not not_valid:
            yield "the new constraint is checked against every row while writes are blocked"
    if ctx.command and ctx.starts_with("ALTER", "TABLE") and altered_command_table_is_old(ctx):
        if ctx.has_sequence("ADD", "CHECK") and not ctx.has_sequence("NOT", "VALID"):
            yield "the new constraint is checked against every row while writes are blocked"
        if ctx.has_sequence("VALIDATE", "CONSTRAINT"):
            name = _word_after(ctx, "CONSTRAINT")
            if name is not None and name in ctx.state.not_valid_constraints:
                yield (
                    f"constraint {name} is added NOT VALID and validated in the same migration: "
                    "in one transaction, ADD's ACCESS EXCLUSIVE lock is held through the scan"
                )


ADDING_FIELD_WITH_DEFAULT = RuleInfo(
    "adding-field-with-default",
    Severity.ERROR,
    "ADD COLUMN with a volatile default (or any default before PostgreSQL 11, or a stored "
    "generated column) rewrites the table under an ACCESS EXCLUSIVE lock",
    "add the column without the default, set the default, then backfill in batches",
)


def adding_field_with_default(ctx: Context) -> Iterator[Problem]:
    for column in added_columns(ctx):
        for constraint in column_constraints(column):
            if isinstance(constraint, exp.ComputedColumnConstraint):
                yield f"generated column {column.name} is computed for every row: a rewrite", column
            if not isinstance(constraint, exp.DefaultColumnConstraint):
                continue
            if ctx.server_version < (11, 0):
                yield (
                    f"before PostgreSQL 11 a default on new column {column.name} rewrites the table"
                )
            else:
                volatile = _volatile_call(constraint.this)
                if volatile:
                    yield (
                        f"the default of new column {column.name} calls {volatile}, which may "
                        "be volatile, so every row is rewritten"
                    )


def _volatile_call(expression: exp.Expr) -> str | None:
    """The name of a call in the expression that is, or may be, volatile."""
    for node in expression.find_all(exp.Func):
        if isinstance(node, _VOLATILE):
            return f"{node.sql(dialect='postgres').split('(')[0].lower()}()"
        if isinstance(node, exp.Anonymous):
            name = str(node.this).lower()
            if name in _VOLATILE_NAMES or name not in _STABLE_NAMES:
                return f"{name}()"
    return None


ADDING_FOREIGN_KEY_CONSTRAINT = RuleInfo(
    "adding-foreign-key-constraint",
    Severity.ERROR,
    "a foreign key added without NOT VALID scans the table while writes to both tables are blocked",
    "add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a later migration",
)


def adding_foreign_key_constraint(ctx: Context) -> Iterator[Problem]:
    not_valid = ctx.tree is not None and bool(ctx.tree.args.get("not_valid"))
    for constraint in added_constraints(ctx):
        if isinstance(constraint, exp.ForeignKey) and not not_valid:
            yield "the foreign key is checked against every row while writes are blocked"
    for column in added_columns(ctx):
        if any(isinstance(c, exp.Reference) for c in column_constraints(column)):
            yield (
                f"new column {column.name} REFERENCES another table: writes to both are blocked "
                "while the key is added"
            )


CHANGING_COLUMN_TYPE = RuleInfo(
    "changing-column-type",
    Severity.ERROR,
    "ALTER COLUMN ... TYPE usually rewrites the table and its indexes under an ACCESS "
    "EXCLUSIVE lock",
    "add a new column, backfill it in batches, and switch readers over",
)


def changing_column_type(ctx: Context) -> Iterator[Problem]:
    for action in alter_actions(ctx):
        if isinstance(action, exp.AlterColumn) and action.args.get("dtype") is not None:
            yield f"changing the type of column {action.name} can rewrite the whole table", action


ADDING_NOT_NULLABLE_FIELD = RuleInfo(
    "adding-not-nullable-field",
    Severity.ERROR,
    "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
    "add CHECK (col IS NOT NULL) NOT VALID, validate it, then SET NOT NULL (PostgreSQL 12+)",
)


def adding_not_nullable_field(ctx: Context) -> Iterator[Problem]:
    for action in alter_actions(ctx):
        if isinstance(action, exp.AlterColumn) and action.args.get("allow_null") is False:
            yield (
                f"SET NOT NULL on column {action.name} scans every row while the table is locked",
                action,
            )


ADDING_REQUIRED_FIELD = RuleInfo(
    "adding-required-field",
    Severity.ERROR,
    "ADD COLUMN ... NOT NULL without a default fails on a table with rows, and breaks old "
    "code that inserts without it",
    "add the column nullable, or NOT NULL with a non-volatile DEFAULT (PostgreSQL 11+)",
)


def adding_required_field(ctx: Context) -> Iterator[Problem]:
    filled = (
        exp.DefaultColumnConstraint,
        exp.ComputedColumnConstraint,
        exp.GeneratedAsIdentityColumnConstraint,
    )
    for column in added_columns(ctx):
        constraints = column_constraints(column)
        not_null = any(isinstance(c, exp.NotNullColumnConstraint) for c in constraints)
        if not_null and not any(isinstance(c, filled) for c in constraints):
            yield f"new column {column.name} is NOT NULL without a default", column


ADDING_SERIAL_PRIMARY_KEY_FIELD = RuleInfo(
    "adding-serial-primary-key-field",
    Severity.ERROR,
    "adding a primary key builds its unique index under an ACCESS EXCLUSIVE lock",
    "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX",
)


def adding_serial_primary_key_field(ctx: Context) -> Iterator[Problem]:
    if any(isinstance(c, exp.PrimaryKey) for c in added_constraints(ctx)):
        yield "ADD PRIMARY KEY builds its index while reads and writes are blocked"
    for column in added_columns(ctx):
        if any(isinstance(c, exp.PrimaryKeyColumnConstraint) for c in column_constraints(column)):
            yield f"new primary key column {column.name} builds its index under the lock", column


DISALLOWED_UNIQUE_CONSTRAINT = RuleInfo(
    "disallowed-unique-constraint",
    Severity.ERROR,
    "adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock",
    "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX",
)


def disallowed_unique_constraint(ctx: Context) -> Iterator[Problem]:
    if any(isinstance(c, exp.UniqueColumnConstraint) for c in added_constraints(ctx)):
        yield "ADD CONSTRAINT ... UNIQUE builds its index while reads and writes are blocked"
    for column in added_columns(ctx):
        if any(isinstance(c, exp.UniqueColumnConstraint) for c in column_constraints(column)):
            yield f"new UNIQUE column {column.name} builds its index under the lock", column


REQUIRE_CONCURRENT_REINDEX = RuleInfo(
    "require-concurrent-reindex",
    Severity.ERROR,
    "REINDEX without CONCURRENTLY blocks writes (and reads that use the index) (PostgreSQL 12+)",
    "use REINDEX ... CONCURRENTLY",
)


def require_concurrent_reindex(ctx: Context) -> Iterator[Problem]:
    concurrently = "CONCURRENTLY" in ctx.keywords
    if ctx.server_version >= (12, 0) and ctx.starts_with("REINDEX") and not concurrently:
        yield "REINDEX without CONCURRENTLY locks the table against writes"


REQUIRE_CONCURRENT_PARTITION_DETACH = RuleInfo(
    "require-concurrent-partition-detach",
    Severity.ERROR,
    "DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the parent "
    "(PostgreSQL 14+)",
    "use ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (outside a transaction block)",
)


def require_concurrent_partition_detach(ctx: Context) -> Iterator[Problem]:
    if ctx.server_version >= (14, 0) and ctx.starts_with("ALTER", "TABLE"):
        keywords = ctx.keywords
        if ctx.has_sequence("DETACH", "PARTITION") and not {"CONCURRENTLY", "FINALIZE"} & set(
            keywords
        ):
            yield "DETACH PARTITION without CONCURRENTLY blocks reads and writes of the parent"


BAN_CREATE_DOMAIN_WITH_CONSTRAINT = RuleInfo(
    "ban-create-domain-with-constraint",
    Severity.WARNING,
    "a domain with a constraint cannot have the constraint changed without locking and "
    "scanning every column that uses it",
    "put the constraint on the table columns instead (CHECK ... NOT VALID)",
)


def ban_create_domain_with_constraint(ctx: Context) -> Iterator[Problem]:
    if ctx.starts_with("CREATE", "DOMAIN") and {"CHECK", "CONSTRAINT"} & set(ctx.keywords):
        yield "CREATE DOMAIN with a constraint"


BAN_ALTER_DOMAIN_WITH_ADD_CONSTRAINT = RuleInfo(
    "ban-alter-domain-with-add-constraint",
    Severity.WARNING,
    "ALTER DOMAIN ... ADD CONSTRAINT scans every column of the domain's type under a lock",
    "put the constraint on the table columns instead (CHECK ... NOT VALID)",
)


def ban_alter_domain_with_add_constraint(ctx: Context) -> Iterator[Problem]:
    if ctx.starts_with("ALTER", "DOMAIN") and "ADD" in ctx.keywords:
        yield "ALTER DOMAIN ... ADD CONSTRAINT checks every value of the domain"


REQUIRE_TIMEOUT_SETTINGS = RuleInfo(
    "require-timeout-settings",
    Severity.WARNING,
    "a statement that takes a strong lock runs before SET lock_timeout and SET "
    "statement_timeout, so it can queue behind a long transaction and block everything behind it",
    "start the migration with SET lock_timeout = '1s' and SET statement_timeout = '...'",
)


def require_timeout_settings(ctx: Context) -> Iterator[Problem]:
    """Reported once per file, at the first statement that takes a lock others would queue
    behind (ALTER, DROP, TRUNCATE, REINDEX, CREATE INDEX on an existing table)."""
    state = ctx.state
    if state.timeout_reported or (state.lock_timeout and state.statement_timeout):
        return
    tree = ctx.tree
    if ctx.command:
        locking = ctx.starts_with("ALTER") or ctx.starts_with("REINDEX")
    elif isinstance(tree, exp.Alter):
        locking = str(tree.args.get("kind")).upper() != "TABLE" or altered_table(ctx) is not None
    elif isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "INDEX":
        index = tree.this
        locking = not ctx.created_here(index.args.get("table") if index else None)
    else:
        locking = isinstance(tree, exp.Drop | exp.TruncateTable)
    if locking:
        state.timeout_reported = True
        missing = [
            name
            for name, done in (
                ("lock_timeout", state.lock_timeout),
                ("statement_timeout", state.statement_timeout),
            )
            if not done
        ]
        yield f"{' and '.join(missing)} not set before the first locking statement"


def altered_command_table_is_old(ctx: Context) -> bool:
    """For an ALTER TABLE that sqlglot kept as a Command: the table was not created here."""
    words = [w for w in ctx.words[2:] if w.keyword not in {"IF", "EXISTS", "ONLY"}]
    if not words:
        return True
    name = words[0].text if words[0].quoted else words[0].text.lower()
    return name not in ctx.state.created_tables


def _word_after(ctx: Context, keyword: str) -> str | None:
    for i, word in enumerate(ctx.words[:-1]):
        if word.keyword == keyword:
            after = ctx.words[i + 1]
            return after.text if after.quoted else after.text.lower()
    return None


RULES: tuple[Rule, ...] = (
    Rule(REQUIRE_CONCURRENT_INDEX_CREATION, require_concurrent_index_creation),
    Rule(REQUIRE_CONCURRENT_INDEX_DELETION, require_concurrent_index_deletion),
    Rule(CONSTRAINT_MISSING_NOT_VALID, constraint_missing_not_valid),
    Rule(ADDING_FIELD_WITH_DEFAULT, adding_field_with_default),
    Rule(ADDING_FOREIGN_KEY_CONSTRAINT, adding_foreign_key_constraint),
    Rule(CHANGING_COLUMN_TYPE, changing_column_type),
    Rule(ADDING_NOT_NULLABLE_FIELD, adding_not_nullable_field),
    Rule(ADDING_REQUIRED_FIELD, adding_required_field),
    Rule(ADDING_SERIAL_PRIMARY_KEY_FIELD, adding_serial_primary_key_field),
    Rule(DISALLOWED_UNIQUE_CONSTRAINT, disallowed_unique_constraint),
    Rule(REQUIRE_CONCURRENT_REINDEX, require_concurrent_reindex),
    Rule(REQUIRE_CONCURRENT_PARTITION_DETACH, require_concurrent_partition_detach),
    Rule(BAN_CREATE_DOMAIN_WITH_CONSTRAINT, ban_create_domain_with_constraint),
    Rule(BAN_ALTER_DOMAIN_WITH_ADD_CONSTRAINT, ban_alter_domain_with_add_constraint),
    Rule(REQUIRE_TIMEOUT_SETTINGS, require_timeout_settings),
)
