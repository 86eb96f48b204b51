"""The model, behind one small class: the only importer of ``openai``.

Any OpenAI-compatible chat-completions endpoint works (OpenAI, Azure, Ollama, vLLM, llama.cpp):
``OPENAI_API_KEY`` (required; local servers accept any value), ``OPENAI_BASE_URL`` and
``GOEX_MODEL``, or the ``[model]`` table of goex.toml.

* Everything sent passes through the ``Redactor`` first (invariant 3): a ``Model`` cannot be
  built without one.
* Retries with exponential backoff on 429, 5xx and connection errors are the ``openai`` client's
  own (it honours ``Retry-After``); the timeout applies per request.
* ``code()`` returns exactly one fenced code block of the requested language, or raises
  ``LLMReplyError`` naming what was wrong with the reply.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

from core.config import Config, ModelConfig
from core.errors import LLMConfigError, LLMError, LLMReplyError, LLMUnavailable
from core.redact import Redactor, redact_target

LANGUAGE_ALIASES: Mapping[str, frozenset[str]] = {
    "sql": frozenset({"sql", "postgresql", "postgres", "pgsql", "plpgsql", "duckdb", "psql"}),
    "sh": frozenset({"sh", "bash", "shell", "console", "zsh", "shell-session"}),
    "json": frozenset({"json", "jsonc"}),
}

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+\-.]*)[^\n]*\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class CodeReply:
    code: str
    language: str
    model: str
    raw: str


def extract_code_block(text: str, language: str) -> str:
    """The body of the one fenced block in text; it must be untagged or tagged ``language``."""
    text = text.replace("\r\n", "\n")  # a closing fence before \r\n would not match
    blocks = list(_FENCE.finditer(text))
    if not blocks:
        raise LLMReplyError(f"the model's reply has no fenced ```{language} code block", reply=text)
    if len(blocks) > 1:
        raise LLMReplyError(
            f"the model's reply has {len(blocks)} code blocks; exactly one ```{language} block "
            "is needed",
            reply=text,
        )
    block = blocks[0]
    tag = block.group("lang").lower()
    accepted = LANGUAGE_ALIASES.get(language, frozenset({language}))
    if tag and tag not in accepted:
        raise LLMReplyError(
            f"the model answered with a ```{tag} block where a ```{language} block was needed",
            reply=text,
        )
    body = block.group("body")
    indent = block.group("indent")
    if indent:
        body = "\n".join(line.removeprefix(indent) for line in body.splitlines())
    if not body.strip():
        raise LLMReplyError(f"the model's ```{language} block is empty", reply=text)
    return body.strip("\n")


def judge_model(config: Config, redactor: Redactor) -> Model:
    """The model for ``--decide llm``: ``[model] judge``, else the main model."""
    return Model(config.model, redactor, name=config.model.judge)


class Model:
    """A chat model at an OpenAI-compatible endpoint, seen only through a Redactor."""

    def __init__(
        self,
        config: ModelConfig,
        redactor: Redactor,
        *,
        name: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        api_key = environ.get("OPENAI_API_KEY")
        if not api_key:
            raise LLMConfigError(
                "no model is configured: set OPENAI_API_KEY (any value for a local server) and, "
                "for a server other than OpenAI, OPENAI_BASE_URL; or pass the agent's code "
                "directly (--sql / --cmd)"
            )
        self.name = name or config.name
        self.redactor = redactor
        if len(api_key) >= 16:  # a real key; "ollama" or "EMPTY" would mask ordinary words
            redactor.add("OPENAI_API_KEY", api_key)
        self._config = config
        # The endpoint actually used, so that errors name it (not the default when the URL
        # comes from OPENAI_BASE_URL).
        base_url = config.base_url or environ.get("OPENAI_BASE_URL") or None
        self._where = redact_target(base_url or "https://api.openai.com/v1")
        import openai  # here, not at the top: it takes most of a CLI's start-up time

        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def chat(self, system: str, user: str) -> str:
        """One completion; both messages are redacted before they leave the process."""
        import openai
        from openai.types.chat import ChatCompletion

        messages: Sequence[ChatCompletionMessageParam] = [
            {"role": "system", "content": self.redactor.redact(system)},
            {"role": "user", "content": self.redactor.redact(user)},
        ]
        try:
            response = self._client.chat.completions.create(
                model=self.name, messages=messages, temperature=0
            )
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        except ValueError as exc:  # a 200 whose body is not JSON, or not even text (a NUL
            # first makes json guess UTF-16 and raise UnicodeDecodeError)
            raise LLMReplyError(f"the model endpoint {self._where} sent a malformed reply") from exc
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise LLMReplyError(f"the model endpoint {self._where} sent a malformed reply")
        try:  # the client builds the reply without validating it: any field may be missing
            content = response.choices[0].message.content
        except (AttributeError, IndexError, KeyError, TypeError) as exc:
            raise LLMReplyError(f"the model endpoint {self._where} sent a malformed reply") from exc
        if not isinstance(content, str) or not content.strip():
            raise LLMReplyError(f"the model endpoint {self._where} sent an empty reply")
        return content

    def code(self, system: str, user: str, language: str) -> CodeReply:
        raw = self.chat(system, user)
        return CodeReply(extract_code_block(raw, language), language, self.name, raw)

    def _translate(self, exc: openai.APIError) -> LLMError:
        import openai

        retries = self._config.max_retries
        after = f" after {retries} retries" if retries else ""
        if isinstance(exc, openai.APITimeoutError):
            return LLMUnavailable(
                f"the model endpoint {self._where} did not answer within "
                f"{self._config.timeout:g}s{after}"
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(f"the model endpoint {self._where} is unreachable{after}")
        if isinstance(exc, openai.RateLimitError):
            return LLMUnavailable(
                f"the model endpoint {self._where} kept answering 429 Too Many Requests{after}"
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMConfigError(
                f"the model endpoint {self._where} refused the API key (HTTP {exc.status_code})"
            )
        if isinstance(exc, openai.NotFoundError):
            return LLMConfigError(f"the model {self.name!r} was not found at {self._where}")
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code >= 500:
                return LLMUnavailable(
                    f"the model endpoint {self._where} kept failing with HTTP "
                    f"{exc.status_code}{after}"
                )
            return LLMError(f"the model endpoint {self._where} answered HTTP {exc.status_code}")
        if isinstance(exc, openai.APIResponseValidationError):
            return LLMReplyError(f"the model endpoint {self._where} sent a malformed reply")
        return LLMError(f"the model request failed: {redact_target(str(exc))}")
