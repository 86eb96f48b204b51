"""Configuration: defaults < ~/.config/goex/config.toml < goex.toml < GOEX_* env < flags.

``goex.toml`` is looked for in the working directory and then each parent; the first found wins.
Every setting has one environment variable, ``GOEX_<SECTION>_<KEY>`` (``GOEX_DB_LOCK_TIMEOUT``,
``GOEX_POLICY_MAX_ROWS_TOTAL``), plus the conventional short names ``GOEX_MODEL``,
``GOEX_DECIDE`` and ``OPENAI_BASE_URL``. List settings take comma-separated values.

README.md's "Configuration" section lists every setting with its default and meaning. Settings
that would loosen confinement (``OPERATOR_ONLY``) are never taken from a project's goex.toml,
which the agent goex confines may have written.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.action import Mode
from core.config_values import choice, from_text, typed
from core.errors import ConfigError
from core.policy import PolicySettings

PROJECT_FILE = "goex.toml"
# Settings that would switch confinement off: never taken from a project's goex.toml.
OPERATOR_ONLY = (
    ("fs", "sandbox"),
    ("fs", "network"),
    ("fs", "allow_hosts"),
    ("fs", "secret_paths"),
    ("fs", "not_secret"),
    ("fs", "read_paths"),
    ("db", "dry_run_code"),
    ("review", "webhook"),  # where goex sends word of waiting actions
    ("review", "url"),
    ("journal", "url"),  # where every action, decision and undo record is written
)


class Capture(StrEnum):
    """What goex-db keeps of the rows an action changes."""

    IMAGES = "images"  # row before/after images: undo possible
    COUNTS = "counts"  # rows per table only: faster, no undo


class ImagePath(StrEnum):
    """How PostgreSQL row images are read."""

    AUTO = "auto"  # RETURNING old, new on 18+, else select
    RETURNING = "returning"
    SELECT = "select"  # lock and read the rows first (the pre-18 way)


class Sandbox(StrEnum):
    BWRAP = "bwrap"
    NONE = "none"  # no confinement (operator-only)


class FsBackend(StrEnum):
    """How goex-fs stages the project (``goexfs.backends``)."""

    AUTO = "auto"
    OVERLAY = "overlay"
    BTRFS = "btrfs"
    REFLINK = "reflink"
    GIT = "git"
    COPY = "copy"


class _Choices:
    """A settings dataclass whose StrEnum fields also take their values as text (a library
    caller's ``DbConfig(capture="counts")``), made into the enum, or refused, at once."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            default = f.default
            value = getattr(self, f.name)
            if isinstance(default, StrEnum) and not isinstance(value, type(default)):
                where = f"[{type(self).__name__.removesuffix('Config').lower()}]"
                object.__setattr__(self, f.name, choice(type(default), f.name, value, where))


@dataclass(frozen=True)
class ModelConfig:
    name: str = "gpt-4o-mini"
    base_url: str | None = None
    timeout: float = 60.0
    max_retries: int = 3
    judge: str | None = None
    schema_budget: int = 4000  # tokens (about 4 characters each) of schema the model is told


@dataclass(frozen=True)
class ReviewConfig(_Choices):
    decide: Mode = Mode.ASK
    timeout: float = 900.0  # --decide person: seconds to wait for a person, then roll back
    webhook: str | None = None  # POSTed a Slack-compatible message when an action starts waiting
    url: str = "http://127.0.0.1:8765"  # where goex-review is reached: the webhook's links


@dataclass(frozen=True)
class JournalConfig:
    url: str | None = None  # postgresql://...: one journal for every machine of a team


@dataclass(frozen=True)
class DbConfig(_Choices):
    statement_timeout: float = 30.0
    lock_timeout: float = 5.0
    idle_timeout: float = 300.0
    max_row_images: int = 10_000
    capture: Capture = Capture.IMAGES
    image_path: ImagePath = ImagePath.AUTO
    # dry-run: also run function/procedure/trigger definitions (their bodies are not inspected,
    # and a later statement may call them): operator-only, off by default
    dry_run_code: bool = False


# [fs] read_paths by default: toolchains' homes under ~ (not all of ~/.cargo: its credentials)
TOOLCHAINS = ".pyenv .nvm .rustup .cargo/bin .local/bin .local/lib .local/share/uv .virtualenvs"


@dataclass(frozen=True)
class FsConfig(_Choices):
    backend: FsBackend = FsBackend.AUTO
    sandbox: Sandbox = Sandbox.BWRAP
    network: bool = False  # the sandboxed command may reach the network (operator-only)
    allow_hosts: tuple[str, ...] = ()  # HOST[:PORT] it may reach through goex's proxy (operator)
    secret_paths: tuple[str, ...] = ()  # globs of files hidden too (operator-only)
    not_secret: tuple[str, ...] = ()  # globs of files never hidden (operator-only)
    # toolchains outside the project the sandboxed command may read, where they exist
    read_paths: tuple[str, ...] = tuple(f"~/{p}" for p in TOOLCHAINS.split())  # operator-only
    timeout: float = 300.0
    exclude_ignored: bool = False  # leave paths the project's .gitignore ignores out of commits
    gc_max_age_days: float = 14.0  # goex-fs gc: staged copies and pre-images older than this go
    gc_max_bytes: int = 1 << 30  # goex-fs gc: then the oldest pre-images, until the rest fits


@dataclass(frozen=True)
class McpConfig:
    lease: float = 300.0  # seconds a held action lives after its last call, then rolled back
    max_handles: int = 16  # actions held at once
    max_rows: int = 50  # rows of each result returned to the agent


LINT_SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class LintConfig:
    """``[lint]``: which rules are off, which are re-graded, and the thresholds of dry-run's
    measured rules. Rule ids are checked against the rules by goexdb.lint (core knows none)."""

    disable: tuple[str, ...] = ()
    severity: Mapping[str, str] = field(default_factory=dict)
    max_exclusive_lock_ms: int = 1000
    large_table_rows: int = 100_000

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, source: str) -> LintConfig:
        known = {f.name for f in fields(cls)}
        for key in table:
            if key not in known:
                raise ConfigError(f"{source}: unknown setting {key!r}", key=f"lint.{key}")
        values = {
            k: typed(cls, k, from_text(cls, k, v, source), source)
            for k, v in table.items()
            if k not in ("disable", "severity")
        }
        disable = table.get("disable", ())
        if isinstance(disable, str):
            disable = [part.strip() for part in disable.split(",") if part.strip()]
        if not isinstance(disable, list | tuple) or not all(isinstance(d, str) for d in disable):
            raise ConfigError(f"{source}: disable must be a list of rule ids", key="lint.disable")
        severity = table.get("severity", {})
        if isinstance(severity, str):  # GOEX_LINT_SEVERITY="rule=warning,rule2=error"
            pairs = [part.split("=", 1) for part in severity.split(",") if part.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ConfigError(
                    f"{source}: severity must look like rule=warning,rule2=error",
                    key="lint.severity",
                )
            severity = {k.strip(): v.strip() for k, v in pairs}
        if not isinstance(severity, Mapping):
            raise ConfigError(f"{source}: [lint.severity] must be a table", key="lint.severity")
        for rule_id, level in severity.items():
            if level not in LINT_SEVERITIES:
                raise ConfigError(
                    f"{source}: severity of {rule_id} must be error or warning, not {level!r}",
                    key=f"lint.severity.{rule_id}",
                )
        return cls(disable=tuple(disable), severity=dict(severity), **values)


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    db: DbConfig = field(default_factory=DbConfig)
    fs: FsConfig = field(default_factory=FsConfig)
    policy: PolicySettings = field(default_factory=PolicySettings)
    lint: LintConfig = field(default_factory=LintConfig)
    mcp: McpConfig = field(default_factory=McpConfig)
    sources: tuple[str, ...] = ()


_SECTIONS: Mapping[str, type[Any]] = {
    "model": ModelConfig,
    "review": ReviewConfig,
    "journal": JournalConfig,
    "db": DbConfig,
    "fs": FsConfig,
    "policy": PolicySettings,
    "lint": LintConfig,
    "mcp": McpConfig,
}
_ALIASES = {
    "GOEX_MODEL": "model.name",
    "GOEX_DECIDE": "review.decide",
    "OPENAI_BASE_URL": "model.base_url",
}


def user_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "goex" / "config.toml"


def find_project_file(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config(
    cwd: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    policy_file: Path | None = None,
) -> Config:
    """Merge every source into one validated Config. ``overrides`` are flags: ``{"db.x": v}``."""
    environ = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    sources: list[str] = []
    user_file = user_config_file()
    if user_file.is_file():
        _merge(merged, _read_toml(user_file), str(user_file))
        sources.append(str(user_file))
    project_file = find_project_file((cwd or Path.cwd()).resolve())
    if project_file is not None:
        project = _read_toml(project_file)
        for section, key in OPERATOR_ONLY:
            table = project.get(section)
            if isinstance(table, dict) and key in table:
                raise ConfigError(
                    f"{project_file}: {section}.{key} may only be set in {user_file}, "
                    f"GOEX_{section.upper()}_{key.upper()} or a flag, since a project file can "
                    "be written by the agent goex confines",
                    path=str(project_file),
                    key=f"{section}.{key}",
                )
        _merge(merged, project, str(project_file))
        sources.append(str(project_file))
    if policy_file is not None:
        data = _read_toml(policy_file)
        _merge(merged, {"policy": data.get("policy", data)}, str(policy_file))
        sources.append(str(policy_file))
    env_values = _from_environment(environ)
    if env_values:
        sources.append("environment")
    for dotted, value in (*env_values.items(), *(overrides or {}).items()):
        if value is None:
            continue
        section, key = dotted.split(".", 1)
        merged[section][key] = value
    if overrides:
        sources.append("flags")
    config = _build(merged)
    return replace(config, sources=tuple(sources))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}", path=str(path)) from exc


def _merge(merged: dict[str, dict[str, Any]], data: Mapping[str, Any], source: str) -> None:
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}]", path=source, key=section)
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: [{section}] must be a table", path=source, key=section)
        merged[section].update(table)


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, dotted in _ALIASES.items():
        if environ.get(name):
            found[dotted] = environ[name]
    for section, cls in _SECTIONS.items():
        for f in fields(cls):
            name = f"GOEX_{section}_{f.name}".upper()
            if name in environ:
                found[f"{section}.{f.name}"] = environ[name]
    return found


def _build(merged: Mapping[str, Mapping[str, Any]]) -> Config:
    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        where = f"[{section}]"
        if cls is PolicySettings:
            table = {k: from_text(PolicySettings, k, v, where) for k, v in merged[section].items()}
            built[section] = PolicySettings.from_mapping(table, source=where)
            continue
        if cls is LintConfig:
            built[section] = LintConfig.from_mapping(merged[section], source=where)
            continue
        known = {f.name for f in fields(cls)}
        values = {}
        for key, raw in merged[section].items():
            if key not in known:
                raise ConfigError(f"{where}: unknown setting {key!r}", key=f"{section}.{key}")
            values[key] = typed(cls, key, from_text(cls, key, raw, where), where)
        built[section] = cls(**values)
    return Config(**built)
