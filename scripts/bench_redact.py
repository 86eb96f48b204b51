"""Redaction cost: masking known secrets and credential shapes, against a baseline scan.

Baseline: one pass of a single simple regex (``\\bsk-\\w+``) over the same text, the least a
redactor must do. goex: Redactor.redact() with 5 registered secrets (each in 4 forms) and every
shape pattern.
"""

from __future__ import annotations

import random
import re
import string
import time
from collections.abc import Callable

from core.redact import Redactor

SIZE = 1_000_000


def corpus() -> str:
    rng = random.Random(7)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(500)]
    text = " ".join(rng.choice(words) for _ in range(SIZE // 6))
    return text + " postgresql://app:pw-in-url@db/x sk-" + "a" * 40


def timed(fn: Callable[[str], str], text: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    text = corpus()
    simple = re.compile(r"\bsk-\w+")
    redactor = Redactor({f"GOEX_SECRET_S{i}": f"secret-value-{i}-xyz" for i in range(5)})
    base = timed(lambda t: simple.sub("[REDACTED]", t), text)
    ours = timed(redactor.redact, text)
    assert "pw-in-url" not in redactor.redact(text)
    mb = len(text) / 1e6
    print(f"redact: {mb:.1f} MB of text")
    print(f"  baseline one-regex pass : {mb / base:8.1f} MB/s")
    print(f"  goex Redactor.redact    : {mb / ours:8.1f} MB/s")
    print(f"  ratio goex/baseline     : {ours / base:8.2f}x time")


if __name__ == "__main__":
    main()
