"""Policy: rules as plain functions over measured effects, and what they found.

A rule is any callable ``rule(subject, settings) -> Iterable[Violation]`` with a ``rule_id``
attribute (set by the ``@rule`` decorator). Each side keeps its rules in a ``RULES`` tuple next
to the effects they read (``goexdb.rules``, ``goexfs.rules``); ``evaluate`` runs a tuple of
them, skipping those that ``goex.toml`` disables and applying severity overrides::

    [policy]
    max_rows_per_table = 100
    deny_tables = ["public.payments"]
    disable = ["db.update-without-where"]
    [policy.severity]
    "fs.max-files" = "warning"

Rules judge what was *measured* (invariant 4), so a rule can never be fooled by how the SQL or
command was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from core.errors import ConfigError, PolicyRejected

S = TypeVar("S", contravariant=True)
T = TypeVar("T")


class Severity(StrEnum):
    WARNING = "warning"  # shown, does not block
    REVIEW = "review"  # needs a person: automatic modes keep the action staged for one
    ERROR = "error"  # blocks commit in every automatic mode


@dataclass(frozen=True)
class Violation:
    rule: str
    severity: Severity
    message: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "severity": self.severity.value, "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Violation:
        return cls(str(data["rule"]), Severity(data["severity"]), str(data["message"]))


@dataclass(frozen=True)
class PolicySettings:
    """The ``[policy]`` table of goex.toml, typed. ``None`` means no limit."""

    # database side
    read_only: bool = False
    dml_only: bool = False
    max_rows_per_table: int | None = 1000
    max_rows_total: int | None = 10_000
    deny_tables: tuple[str, ...] = ()
    deny_columns: tuple[str, ...] = ()
    allow_unfiltered_writes: bool = False
    allow_drop: bool = False
    deny_functions: tuple[str, ...] = (
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_ls_*",
        "pg_file_*",
        "lo_import",
        "lo_export",
        # large objects' writes, in a catalog goex does not measure
        "lo_unlink",
        "lo_create",
        "lo_creat",
        "lo_from_bytea",
        "lo_put",
        "lowrite",
        "lo_truncate*",
        "dblink*",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_logical_emit_message",
        "set_config",
        "setval",  # a sequence is not rolled back
        "pg_notify",  # delivered to other sessions at commit, unmeasured
        "query_to_xml*",
        "ts_stat",
        "ts_rewrite",
        "pg_*replication*",
        "pg_stat_reset*",
        "pg_backup_*",
        "pg_log_backend_memory_contexts",
        "cursor_to_xml*",
        "getenv",
    )  # fnmatch patterns; called anywhere in a statement, they refuse it before it runs
    # file side
    max_files_changed: int | None = 200
    max_bytes_written: int | None = 100 * 1024 * 1024  # bytes of added and rewritten files
    allow_file_deletes: bool = True
    allow_paths: tuple[str, ...] = ()  # when set, every changed path must match one of these
    deny_paths: tuple[str, ...] = (".git/**", ".goex/**", "goex.toml", ".env", ".env.*", "**/*.pem")
    # both
    disable: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "[policy]") -> PolicySettings:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{source}: unknown policy setting {key!r}", key=key)
            values[key] = _coerce_setting(key, raw, source)
        return cls(**values)


def _coerce_setting(key: str, raw: Any, source: str) -> Any:
    default = getattr(PolicySettings(), key)
    if key == "severity":
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}: severity must be a table of rule = level", key=key)
        try:
            return {str(k): Severity(v) for k, v in raw.items()}
        except ValueError:
            raise ConfigError(
                f"{source}: severity levels are 'warning', 'review' or 'error'", key=key
            ) from None
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
    elif isinstance(default, tuple):
        if isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw):
            return tuple(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    elif raw is None or raw == "none":
        return None
    kind = type(default).__name__ if default is not None else "int"
    raise ConfigError(f"{source}: {key} must be a {kind}, not {raw!r}", key=key)


class Rule(Protocol[S]):
    @property
    def rule_id(self) -> str: ...

    def __call__(self, subject: S, settings: PolicySettings, /) -> Iterable[Violation]: ...


@dataclass(frozen=True)
class _Rule(Generic[T]):
    rule_id: str
    severity: Severity
    check: Callable[[T, PolicySettings], Iterable[str]]

    def __call__(self, subject: T, settings: PolicySettings, /) -> Iterable[Violation]:
        level = settings.severity.get(self.rule_id, self.severity)
        return [
            Violation(self.rule_id, level, message) for message in self.check(subject, settings)
        ]


def rule(
    rule_id: str, severity: Severity = Severity.ERROR
) -> Callable[[Callable[[T, PolicySettings], Iterable[str]]], _Rule[T]]:
    """Make a rule from a function that yields one message per thing it objects to."""

    def wrap(check: Callable[[T, PolicySettings], Iterable[str]]) -> _Rule[T]:
        return _Rule(rule_id, severity, check)

    return wrap


def evaluate(rules: Sequence[Rule[T]], subject: T, settings: PolicySettings) -> list[Violation]:
    found: list[Violation] = []
    for each in rules:
        if each.rule_id not in settings.disable:
            found.extend(each(subject, settings))
    return found


def blocking(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.severity is Severity.ERROR]


def refuse_errors(violations: Iterable[Violation], action_id: str) -> None:
    """Refuse (PolicyRejected) to commit what a rule found an error in: a kept action's commit
    and a person's approval are judged as an automatic decision is (only ``ask``, at goex's own
    terminal, may commit over policy)."""
    if errors := blocking(violations):
        raise PolicyRejected(
            f"policy refuses this commit ({'; '.join(v.message for v in errors[:3])}); "
            f"action {action_id} stays as it was",
            violations=errors,
        )


def needing_person(violations: Iterable[Violation]) -> list[Violation]:
    """Findings only a person may accept (severity ``review``)."""
    return [v for v in violations if v.severity is Severity.REVIEW]
