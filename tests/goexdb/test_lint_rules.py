"""Every lint rule against its fixtures: lint_cases/<rule>/bad.sql must trigger the rule and
good.sql must not. A rule without fixtures, or fixtures without a rule, fails too."""

from __future__ import annotations

from pathlib import Path

import pytest

from goexdb.lint import FILE_RULES, STATEMENT_RULES
from goexdb.lint.engine import lint_file

CASES = Path(__file__).parent / "lint_cases"
STATIC_RULES = sorted({r.info.id for r in (*STATEMENT_RULES, *FILE_RULES)} | {"syntax-error"})


def rules_found(path: Path) -> set[str]:
    return {finding.rule for finding in lint_file(path).findings()}


def test_every_rule_has_fixtures_and_every_fixture_a_rule() -> None:
    assert sorted(p.name for p in CASES.iterdir() if p.is_dir()) == STATIC_RULES


@pytest.mark.parametrize("rule", STATIC_RULES)
def test_bad_fixture_triggers_the_rule(rule: str) -> None:
    assert rule in rules_found(CASES / rule / "bad.sql")


@pytest.mark.parametrize("rule", STATIC_RULES)
def test_good_fixture_does_not_trigger_the_rule(rule: str) -> None:
    assert rule not in rules_found(CASES / rule / "good.sql")
