"""goex-db run and undo: stage an action, show it, have it decided, carry the decision out."""

from __future__ import annotations

import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.action import Mode
from core.cli import DecideOption, Format, FormatOption, PolicyOption, conclude
from core.config import Config, DbConfig, ModelConfig, load_config
from core.errors import UsageError
from core.llm import Model
from core.render import make_console
from core.secrets import SecretStore
from goexdb import prompt as prompts
from goexdb.cli.options import ActionDsnOption, DsnOption, clone_progress, journal
from goexdb.render import View
from goexdb.session import Session, connect, resolve_target
from goexdb.staged import Staged

PERSON_MARGIN = 30.0  # seconds the transaction outlives the wait for a person (to commit)


class RunMode(StrEnum):
    TXN = "txn"
    CLONE = "clone"


def run_command(
    prompt: Annotated[
        str | None, typer.Argument(help="the task in words, for the model to write SQL for")
    ] = None,
    dsn: DsnOption = None,
    sql: Annotated[str | None, typer.Option(help="the agent's SQL, run as it is")] = None,
    sql_file: Annotated[
        str | None, typer.Option("--sql-file", help="read the agent's SQL from a file, - for stdin")
    ] = None,
    decide: DecideOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
    timeout: Annotated[
        float | None, typer.Option(help="statement timeout in seconds (PostgreSQL)")
    ] = None,
    mode: Annotated[
        RunMode,
        typer.Option(
            help="txn: hold a transaction on the database; clone: run on a throwaway clone and "
            "replay on the database only if the decision is commit (a clone can be kept)"
        ),
    ] = RunMode.TXN,
) -> None:
    """Stage SQL (the agent's, or the model's for PROMPT), show its effects, and decide."""
    code = _read_sql(sql, sql_file)
    if code is None and not prompt:
        raise UsageError("give a PROMPT for the model, or the agent's SQL with --sql/--sql-file")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    config = load_config(
        overrides={"review.decide": decide, "db.statement_timeout": timeout}, policy_file=policy
    )
    decide_mode = config.review.decide
    if decide_mode is Mode.KEEP and mode is RunMode.TXN:
        raise UsageError(
            "a transaction cannot outlive its process, so --decide keep needs --mode clone"
        )
    target = resolve_target(dsn)
    db_config = held_for(config)
    with journal() as log, connect(target, db_config, config.policy, journal=log) as db:
        if code is None:
            assert prompt is not None
            code = _ask_model(db, prompt, config.model, fmt)
        progress = clone_progress() if fmt is Format.TEXT else None
        staged = db.stage(code, prompt=prompt, clone=mode is RunMode.CLONE, progress=progress)
        conclude(staged, view(staged), mode=decide_mode, fmt=fmt, config=config)


def undo_command(
    action_id: Annotated[str, typer.Argument(help="the committed action, or a unique prefix")],
    dsn: ActionDsnOption = None,
    decide: DecideOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Undo a committed action: compensating SQL from its row images, staged and reviewed like
    any action, refused if any row it changed has changed since."""
    config = load_config(overrides={"review.decide": decide}, policy_file=policy)
    if config.review.decide is Mode.KEEP:
        raise UsageError("an undo runs in a transaction, which cannot outlive its process")
    with journal() as log:
        target = resolve_target(dsn, log.get(action_id))
        with connect(target, held_for(config), config.policy, journal=log) as db:
            staged = db.stage_undo(action_id)
            conclude(staged, view(staged), mode=config.review.decide, fmt=fmt, config=config)


def held_for(config: Config) -> DbConfig:
    """The database settings for an action decided under ``config``: one that waits for a person
    keeps its transaction open (``idle_timeout``) at least as long as it waits."""
    if config.review.decide is not Mode.PERSON:
        return config.db
    wait = config.review.timeout + PERSON_MARGIN
    return replace(config.db, idle_timeout=max(config.db.idle_timeout, wait))


def view(staged: Staged) -> View:
    return View(staged.action, staged.recorded, staged.redactor, staged)


def _ask_model(db: Session, prompt: str, config: ModelConfig, fmt: Format) -> str:
    model = Model(config, db.redactor)
    if fmt is Format.TEXT:
        make_console().print(f"asking {model.name} for SQL …", style="dim")
    return model.code(
        prompts.system_prompt(db.target.dialect),
        prompts.user_prompt(prompt, db.describe(prompt, config.schema_budget), SecretStore.load()),
        "sql",
    ).code


def _read_sql(sql: str | None, sql_file: str | None) -> str | None:
    if sql is not None and sql_file is not None:
        raise UsageError("give --sql or --sql-file, not both")
    if sql_file == "-":
        return sys.stdin.read()
    if sql_file is not None:
        try:
            return Path(sql_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --sql-file {sql_file}: {exc}") from exc
    return sql
