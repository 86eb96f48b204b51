"""What the model is told when it writes SQL: the schema, the credentials' names, the task."""

from __future__ import annotations

from core.secrets import SecretStore
from goexdb.engines import engine_facts

SYSTEM = (
    "You write SQL for the {dialect} database described below, to do what the user asks. "
    "Your SQL runs inside a transaction that goex holds open: never write BEGIN, COMMIT, ROLLBACK, "
    "SAVEPOINT or SET statements. Change only what the request needs, with WHERE clauses that "
    "select exactly the rows it names. Answer with exactly one ```sql code block and nothing "
    "else in code blocks."
)


def system_prompt(dialect: str) -> str:
    return SYSTEM.format(dialect=engine_facts(dialect).name)


def user_prompt(task: str, schema: str, secrets: SecretStore) -> str:
    return (
        f"Schema (tables, columns, types, approximate row counts; no data):\n{schema}\n\n"
        f"{secrets.describe_for_model()}\n\n"
        f"Task: {task}"
    )
