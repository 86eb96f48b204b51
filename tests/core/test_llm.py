from __future__ import annotations

import base64
import json
import socket
from urllib.parse import quote

import pytest

from core.config import ModelConfig
from core.errors import LLMConfigError, LLMError, LLMReplyError, LLMUnavailable
from core.llm import Model, extract_code_block
from core.redact import Redactor
from core.secrets import SecretStore
from tests.conftest import FAKE_API_KEY
from tests.fake_llm import FakeLLM

FAST = {"retry-after-ms": "10"}  # the openai client's backoff honours it: retries stay quick
SQL_REPLY = "Here is the statement:\n\n```sql\nUPDATE t SET x = 1 WHERE id = 2;\n```\n"


def model(fake: FakeLLM, **config: object) -> Model:
    settings: dict[str, object] = {"base_url": fake.base_url, "timeout": 10.0, "max_retries": 2}
    settings.update(config)
    return Model(ModelConfig(**settings), Redactor())  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- through the real openai client ------------------------------------------------------------


def test_one_sql_block_is_extracted(fake_llm: FakeLLM) -> None:
    fake_llm.reply(SQL_REPLY)
    reply = model(fake_llm, name="test-model").code("system words", "user words", "sql")
    assert reply.code == "UPDATE t SET x = 1 WHERE id = 2;"
    assert (reply.language, reply.model, reply.raw) == ("sql", "test-model", SQL_REPLY)

    (request,) = fake_llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert request.json["model"] == "test-model"
    assert request.json["temperature"] == 0
    assert request.messages == [
        {"role": "system", "content": "system words"},
        {"role": "user", "content": "user words"},
    ]


def test_endpoint_and_key_from_the_environment(fake_llm: FakeLLM) -> None:
    fake_llm.reply(SQL_REPLY)
    # fake_llm set OPENAI_BASE_URL and OPENAI_API_KEY; the config names no endpoint
    reply = Model(ModelConfig(max_retries=0), Redactor()).code("s", "u", "sql")
    assert reply.code.startswith("UPDATE t")
    assert len(fake_llm.requests) == 1


def test_429_then_success(fake_llm: FakeLLM) -> None:
    fake_llm.fail(429, headers=FAST).reply(SQL_REPLY)
    reply = model(fake_llm).code("s", "u", "sql")
    assert reply.code == "UPDATE t SET x = 1 WHERE id = 2;"
    assert len(fake_llm.requests) == 2
    assert fake_llm.requests[0].raw == fake_llm.requests[1].raw


def test_429_forever(fake_llm: FakeLLM) -> None:
    fake_llm.fail(429, times=3, headers=FAST)
    with pytest.raises(LLMUnavailable, match="kept answering 429 Too Many Requests after 2"):
        model(fake_llm).code("s", "u", "sql")
    assert len(fake_llm.requests) == 3


def test_repeated_500(fake_llm: FakeLLM) -> None:
    fake_llm.fail(500, times=3, headers=FAST)
    with pytest.raises(LLMUnavailable) as info:
        model(fake_llm).code("s", "u", "sql")
    message = str(info.value)
    assert "HTTP 500" in message
    assert fake_llm.base_url in message
    assert "after 2 retries" in message
    assert len(fake_llm.requests) == 3
    assert fake_llm.pending == 0


def test_503_then_success(fake_llm: FakeLLM) -> None:
    fake_llm.fail(503, times=2, headers=FAST).reply(SQL_REPLY)
    assert model(fake_llm).code("s", "u", "sql").code.startswith("UPDATE")
    assert len(fake_llm.requests) == 3


def test_timeout(fake_llm: FakeLLM) -> None:
    fake_llm.delay(30)
    with pytest.raises(LLMUnavailable, match=r"did not answer within 0\.5s"):
        model(fake_llm, timeout=0.5, max_retries=0).code("s", "u", "sql")
    assert len(fake_llm.requests) == 1


def test_unreachable_endpoint() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    config = ModelConfig(base_url=url, timeout=5.0, max_retries=0)
    with pytest.raises(LLMUnavailable, match="is unreachable") as info:
        Model(config, Redactor(), environ={"OPENAI_API_KEY": "k"}).chat("s", "u")
    assert url in str(info.value)


def test_unreachable_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    with pytest.raises(LLMUnavailable, match="is unreachable") as info:
        Model(ModelConfig(max_retries=0), Redactor()).chat("s", "u")
    assert url in str(info.value)  # the endpoint actually tried, not the default one


def test_no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMConfigError, match="set OPENAI_API_KEY"):
        Model(ModelConfig(), Redactor())
    with pytest.raises(LLMConfigError, match="--sql / --cmd"):
        Model(ModelConfig(), Redactor(), environ={"OPENAI_API_KEY": ""})


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, LLMConfigError, "refused the API key"),
        (403, LLMConfigError, "refused the API key"),
        (404, LLMConfigError, "model 'gpt-4o-mini' was not found"),
        (400, LLMError, "answered HTTP 400"),
    ],
)
def test_client_errors_are_not_retried(
    fake_llm: FakeLLM, status: int, error: type[LLMError], message: str
) -> None:
    fake_llm.fail(status)
    with pytest.raises(error, match=message):
        model(fake_llm).chat("s", "u")
    assert len(fake_llm.requests) == 1


def test_no_code_block(fake_llm: FakeLLM) -> None:
    fake_llm.reply("I would rather not write SQL today.")
    with pytest.raises(LLMReplyError, match="no fenced ```sql code block") as info:
        model(fake_llm).code("s", "u", "sql")
    assert info.value.reply == "I would rather not write SQL today."


def test_two_code_blocks(fake_llm: FakeLLM) -> None:
    fake_llm.reply("```sql\nSELECT 1;\n```\nor\n```sql\nSELECT 2;\n```")
    with pytest.raises(LLMReplyError, match="2 code blocks; exactly one ```sql block"):
        model(fake_llm).code("s", "u", "sql")


def test_wrong_language(fake_llm: FakeLLM) -> None:
    fake_llm.reply("```python\nprint('hi')\n```")
    with pytest.raises(LLMReplyError, match="a ```python block where a ```sql block was needed"):
        model(fake_llm).code("s", "u", "sql")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json at all",
        b"",
        b"{}",
        b"[1, 2]",
        b'{"choices": []}',
        b'{"choices": "nope"}',
        b'{"choices": [{"index": 0}]}',
        b'{"choices": [{"message": "text"}]}',
        b"\x00{not json",  # found by tests/adversarial: json guessed UTF-16, UnicodeDecodeError
        b"\xff\xfe\x00",
    ],
)
def test_malformed_body(fake_llm: FakeLLM, body: bytes) -> None:
    fake_llm.raw(body)
    with pytest.raises(LLMReplyError, match="sent a malformed reply"):
        model(fake_llm).code("s", "u", "sql")


def test_html_instead_of_json(fake_llm: FakeLLM) -> None:
    fake_llm.raw(b"<html><body>Bad gateway</body></html>", content_type="text/html")
    with pytest.raises(LLMReplyError):
        model(fake_llm).code("s", "u", "sql")


@pytest.mark.parametrize("content", [None, "", "   \n"])
def test_empty_reply(fake_llm: FakeLLM, content: str | None) -> None:
    fake_llm.reply(content)
    with pytest.raises(LLMReplyError, match="sent an empty reply"):
        model(fake_llm).code("s", "u", "sql")


def test_no_scripted_reply_left_is_a_500(fake_llm: FakeLLM) -> None:
    with pytest.raises(LLMUnavailable, match="HTTP 500"):
        model(fake_llm, max_retries=0).chat("s", "u")


# -- secrets never reach the model -------------------------------------------------------------

DB_PASSWORD = "Tr0ub4dor&3-db"
API_TOKEN = "tok/with+special=chars?&"
DSN_PASSWORD = "pg-pass-w0rd!"


def every_form(value: str) -> list[bytes]:
    raw = value.encode()
    texts = [
        value,
        quote(value, safe=""),
        quote(value),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]
    # and as they would look inside a JSON string
    return sorted({t.encode() for t in texts} | {json.dumps(t)[1:-1].encode() for t in texts})


def test_no_secret_value_reaches_the_model(fake_llm: FakeLLM) -> None:
    store = SecretStore.load(
        environ={"GOEX_SECRET_DB_PASSWORD": DB_PASSWORD, "GOEX_SECRET_API_TOKEN": API_TOKEN}
    )
    redactor = store.redactor()
    redactor.add("DSN_PASSWORD", DSN_PASSWORD)
    llm = Model(ModelConfig(base_url=fake_llm.base_url, max_retries=0), redactor)
    system = (
        f"{store.describe_for_model()}\n"
        f"(a careless caller pasted: {DB_PASSWORD} {API_TOKEN} {FAKE_API_KEY})"
    )
    user = (
        f"connect to postgresql://app:{DSN_PASSWORD}@db.internal/prod\n"
        f"url-quoted: postgresql://app:{quote(DSN_PASSWORD, safe='')}@db.internal/prod\n"
        f"base64: {base64.b64encode(DB_PASSWORD.encode()).decode()}\n"
        f"urlsafe: {base64.urlsafe_b64encode(API_TOKEN.encode()).decode()}\n"
        f"quoted token: {quote(API_TOKEN, safe='')}\n"
        "a shape nobody registered: password=hunter2hunter2\n"
        "and another: sk-proj-abcdefghijklmnop0123456789\n"
    )
    fake_llm.reply(SQL_REPLY)
    llm.code(system, user, "sql")

    received = fake_llm.received_bytes()
    assert received, "nothing was sent"
    for secret in (DB_PASSWORD, API_TOKEN, DSN_PASSWORD, FAKE_API_KEY):
        for form in every_form(secret):
            assert form not in received, (secret, form)
    for shape in (b"hunter2hunter2", b"sk-proj-abcdefghijklmnop0123456789"):
        assert shape not in received
    system_sent, user_sent = (m["content"] for m in fake_llm.requests[0].messages)
    assert "$GOEX_SECRET_DB_PASSWORD" in system_sent  # the names are there
    assert "[REDACTED:GOEX_SECRET_DB_PASSWORD]" in system_sent  # the values masked, not dropped
    assert "[REDACTED:OPENAI_API_KEY]" in system_sent
    assert "postgresql://app:[REDACTED" in user_sent
    assert "db.internal/prod" in user_sent


# -- code block extraction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "code"),
    [
        ("```sql\nSELECT 1;\n```", "sql", "SELECT 1;"),
        ("```\nSELECT 1;\n```", "sql", "SELECT 1;"),  # untagged is accepted
        ("```PostgreSQL\nSELECT 1;\n```", "sql", "SELECT 1;"),
        ("```duckdb\nSELECT 1;\n```", "sql", "SELECT 1;"),
        ("~~~sql\nSELECT 1;\n~~~", "sql", "SELECT 1;"),
        ("```bash\nls -la\n```", "sh", "ls -la"),
        ("```console title\nls\n```", "sh", "ls"),
        ('```json\n{"a": 1}\n```', "json", '{"a": 1}'),
        ("```rust\nfn main() {}\n```", "rust", "fn main() {}"),
        (
            "1. do this:\n   ```sql\n   SELECT 1;\n     -- kept\n   ```\n",
            "sql",
            "SELECT 1;\n  -- kept",
        ),
        ("````sql\nSELECT '```';\n````", "sql", "SELECT '```';"),
        ("```sql\n\nSELECT 1;\nSELECT 2;\n\n```", "sql", "SELECT 1;\nSELECT 2;"),
        ("Use `psql` and ```inline``` text.\n```sql\nSELECT 1;\n```", "sql", "SELECT 1;"),
        ("```sql\r\nSELECT 1;\r\nSELECT 2;\r\n```\r\n", "sql", "SELECT 1;\nSELECT 2;"),
        ("```sql\r\nSELECT 1;\r\n```", "sql", "SELECT 1;"),
    ],
)
def test_extract_code_block(text: str, language: str, code: str) -> None:
    assert extract_code_block(text, language) == code


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1;", "no fenced"),
        ("```sql\nSELECT 1;", "no fenced"),  # never closed
        ("```sql\n\n```", "is empty"),
        ("```sh\nls\n```", "a ```sh block where a ```sql block was needed"),
        ("```sql\nA\n```\n```\nB\n```", "2 code blocks"),
    ],
)
def test_extract_code_block_errors(text: str, message: str) -> None:
    with pytest.raises(LLMReplyError, match=message):
        extract_code_block(text, "sql")
