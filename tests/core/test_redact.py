from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.redact import MASK, Redactor, redact_target, redact_text

SECRET = "s3cr3t/p@ss+word=="  # changes under URL quoting; base64 has padding to strip


def forms(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        quote(value, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


def test_known_value_is_masked_by_name() -> None:
    redactor = Redactor({"GOEX_SECRET_DB": SECRET})
    assert redactor.redact(f"password is {SECRET}.") == "password is [REDACTED:GOEX_SECRET_DB]."
    assert redactor.names == ["GOEX_SECRET_DB"]


@pytest.mark.parametrize("form", range(4), ids=["plain", "quoted", "base64", "urlsafe-base64"])
def test_every_form_of_a_known_value_is_masked(form: int) -> None:
    redactor = Redactor({"GOEX_SECRET_DB": SECRET})
    value = forms(SECRET)[form]
    text = f"before {value} after"
    masked = redactor.redact(text)
    assert value not in masked
    assert "[REDACTED:GOEX_SECRET_DB]" in masked
    assert masked.startswith("before ") and masked.endswith(" after")
    assert redactor.leaks(text) == ["GOEX_SECRET_DB"]
    assert redactor.leaks(masked) == []


def test_padded_base64_is_masked_too() -> None:
    redactor = Redactor({"K": SECRET})
    padded = base64.b64encode(SECRET.encode()).decode()
    assert SECRET not in redactor.redact(padded)
    assert base64.b64encode(SECRET.encode()).decode().rstrip("=") not in redactor.redact(padded)


def test_longest_secret_is_masked_whole() -> None:
    redactor = Redactor({"SHORT": "abcd1234", "LONG": "abcd1234-and-more"})
    assert (
        redactor.redact("x abcd1234-and-more y abcd1234") == "x [REDACTED:LONG] y [REDACTED:SHORT]"
    )


def test_values_too_short_to_mask_are_ignored() -> None:
    redactor = Redactor({"PIN": "123"})
    assert redactor.names == []
    assert redactor.redact("call 123") == "call 123"


def test_added_later() -> None:
    redactor = Redactor()
    redactor.add("DSN_PASSWORD", "pg-pass-w0rd")
    assert redactor.redact("pg-pass-w0rd") == "[REDACTED:DSN_PASSWORD]"


PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA7v6bN0X3b2kxq3Yq1p3Yz0example0keymaterial\n"
    "aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSByZWFsIGtleQ==\n"
    "-----END RSA PRIVATE KEY-----"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

SHAPES = {
    "openai": "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "openai-legacy": "sk-ABCDEFGHIJKLMNOPQRSTUVWX0123",
    "anthropic": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
    "github": "ghp_" + "a1B2c3D4e5" * 4,
    "github-pat": "github_pat_" + "11ABCDEFG0" * 4,
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "slack": "xoxb-123456789012-abcdefABCDEF",
    "google": "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "stripe": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "gitlab": "glpat-" + "xxxxXXXXyyyyYYYYzzzz",
    "jwt": JWT,
    "pem": PEM,
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_secret_shapes_are_masked(name: str) -> None:
    value = SHAPES[name]
    masked = redact_text(f"the key is {value} ok")
    assert value not in masked
    assert MASK in masked
    assert masked.startswith("the key is ")


def test_truncated_private_key_is_masked_to_the_end() -> None:
    text = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nmore"
    masked = redact_text(text)
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in masked and "more" not in masked
    assert masked.startswith("key:\n")


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("postgresql://app:pa55word@db.example.com/prod", "pa55word", "app:"),
        ("https://user:tok3n-value@github.com/org/repo.git", "tok3n-value", "github.com"),
        ("password=hunter22 host=db", "hunter22", "host=db"),
        ("PGPASSWORD=hunter22 psql", "hunter22", "psql"),
        ('{"api_key": "abcd-efgh-ijkl"}', "abcd-efgh-ijkl", "api_key"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI/K7MDENG", "aws_"),
        ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234", "Bearer"),
        ("pwd: 'letmein99'", "letmein99", "pwd"),
    ],
)
def test_password_shapes_are_masked(text: str, hidden: str, kept: str) -> None:
    masked = redact_text(text)
    assert hidden not in masked
    assert kept in masked
    assert MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "SELECT id, name FROM users WHERE created_at > now() - interval '1 day';",
        "UPDATE accounts SET password_changed_at = now() WHERE id = 4;",
        "rm -rf build/ && make test",
        "https://docs.example.com/path/to/page?x=1",
        "the skill of ghosts, and a token of thanks",
        "AKIA is a prefix; so is sk-",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact_text(text) == text
    assert Redactor({"K": "not-in-the-text"}).redact(text) == text


# Words up to 15 characters cannot hold any credential shape (the shortest, an AWS key id, is
# 20) and separators never join two words into one token.
words = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'",
    min_size=1,
    max_size=15,
)
separators = st.sampled_from([" ", ", ", ". ", "! ", "? ", "\n", " - ", " (", ") "])


@given(st.lists(st.tuples(words, separators), max_size=40))
def test_plain_words_are_never_changed(parts: list[tuple[str, str]]) -> None:
    text = "".join(word + sep for word, sep in parts)
    assert redact_text(text) == text
    redactor = Redactor({"GOEX_SECRET_X": "a-registered-secret-value"})
    assert redactor.redact(text) == text


# Secrets drawn from characters the mask itself does not use, so that the mask and the text
# around it cannot spell the secret again.
secret_values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-!@#$%^&*+=/.", min_size=4)


@given(secret_values, st.text(max_size=40), st.text(max_size=40))
def test_a_known_value_never_survives(secret: str, before: str, after: str) -> None:
    redactor = Redactor({"GOEX_SECRET_X": secret})
    masked = redactor.redact(before + secret + after)
    assert secret not in masked
    assert "[REDACTED" in masked


def test_redact_obj_walks_json() -> None:
    redactor = Redactor({"GOEX_SECRET_DB": SECRET})
    data: dict[str, Any] = {
        "sql": f"ALTER ROLE app PASSWORD '{SECRET}'",
        "rows": [{"id": 1, "note": SECRET}, ("tuple", SECRET)],
        SECRET: "secret as a key",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "none": None,
    }
    masked = redactor.redact_obj(data)
    assert SECRET not in json.dumps(masked)
    assert masked["count"] == 3 and masked["ratio"] == 0.5
    assert masked["flag"] is True and masked["none"] is None
    assert masked["rows"][0] == {"id": 1, "note": "[REDACTED:GOEX_SECRET_DB]"}
    assert masked["rows"][1] == ["tuple", "[REDACTED:GOEX_SECRET_DB]"]
    assert "[REDACTED:GOEX_SECRET_DB]" in masked
    assert data["rows"][0]["note"] == SECRET  # the original is left alone


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("postgresql://u:secret@h/db", "postgresql://u:[REDACTED]@h/db"),
        ("host=x password=secret", "host=x password=[REDACTED]"),
        ("host=x password='with space' port=5", "host=x password=[REDACTED] port=5"),
        ("host=x user=u", "host=x user=u"),
        ("/home/me/project", "/home/me/project"),
    ],
)
def test_redact_target(target: str, expected: str) -> None:
    assert redact_target(target) == expected
    assert redact_target(expected) == expected  # stable when applied again


def test_shell_working_directory_variables_are_not_passwords() -> None:
    text = "PWD=/work/project OLDPWD=/tmp db_pwd=hunter22x"
    assert redact_text(text) == "PWD=/work/project OLDPWD=/tmp db_pwd=[REDACTED]"


def test_password_variables_with_a_short_suffix_are_masked() -> None:
    assert redact_text("DB_PASSWORD_X=hunter2-very-secret") == "DB_PASSWORD_X=[REDACTED]"
    assert "now()" in redact_text("SET password_changed_at = now()")


def test_a_ten_megabyte_text_is_redacted_in_one_pass() -> None:
    """Found by the adversarial SQL corpus: the URL-password and private-key shapes backtracked
    quadratically, so redacting a 10 MB statement (a long run of letters, or many BEGIN lines
    without an END) would have taken hours while goex held the transaction."""
    run = "x" * 10_000_000 + " postgresql://agent:hunter2hunter2@db/x"
    assert redact_text(run).endswith("postgresql://agent:[REDACTED]@db/x")
    begins = "-----BEGIN RSA PRIVATE KEY-----\n" * 50_000
    assert redact_text("key: " + begins) == "key: [REDACTED]"
