"""goex-db lint speed: a 1 MB migration file, linted, against sqlglot's plain parse of it.

The baseline is ``sqlglot.parse`` of the whole file with the postgres dialect, measured in the
same run; lint adds per-statement splitting with positions, the keyword view of each statement,
classification, and the 36 rules. The median of a few runs and the ratio are printed.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

import sqlglot

from goexdb.lint.engine import lint_sql

logging.getLogger("sqlglot").setLevel(logging.ERROR)

TARGET_BYTES = 1_000_000
BLOCK = """\
-- migration step {n}: orders for tenant {n}
SET lock_timeout = '1s';
SET statement_timeout = '30s';
CREATE TABLE IF NOT EXISTS orders_{n} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL,
    status text NOT NULL DEFAULT 'new',
    note varchar(200),
    placed_at timestamp,
    total numeric(12, 2) CHECK (total >= 0)
);
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_{n}_customer ON orders_{n} (customer_id);
ALTER TABLE orders_{n} ADD COLUMN IF NOT EXISTS shipped boolean DEFAULT false;
ALTER TABLE customers ADD CONSTRAINT orders_{n}_fk FOREIGN KEY (id) REFERENCES orders_{n} (id);
ALTER TABLE orders_{n} ALTER COLUMN total TYPE numeric(14, 2);
UPDATE orders_{n} SET status = 'old', note = 'it''s; not a split' WHERE placed_at < now();
INSERT INTO orders_{n} (customer_id, status, total) VALUES ({n}, 'new', 1.5), ({n}, 'paid', 2);
"""


def migration() -> str:
    parts: list[str] = []
    size, n = 0, 0
    while size < TARGET_BYTES:
        block = BLOCK.format(n=n)
        parts.append(block)
        size += len(block.encode())
        n += 1
    return "".join(parts)


def median_seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    sql = migration()
    statements = sql.count(";\n")
    parse = median_seconds(lambda: sqlglot.parse(sql, read="postgres"))
    report = lint_sql(sql, "bench.sql")
    lint = median_seconds(lambda: lint_sql(sql, "bench.sql"))
    print(
        f"lint      {len(sql) / 1e6:.2f} MB, {statements} statements, "
        f"{len(report.findings())} findings:  sqlglot parse {parse * 1e3:8.0f} ms   "
        f"goex-db lint {lint * 1e3:8.0f} ms ({lint / parse:4.2f}x)"
    )


if __name__ == "__main__":
    main()
