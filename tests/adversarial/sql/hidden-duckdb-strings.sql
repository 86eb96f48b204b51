-- tries: ATTACH, INSTALL and COPY inside a DuckDB string literal
-- expect: harmless
-- backends: duckdb
-- message: --decide commit
SELECT 'ATTACH ''/etc/passwd''; INSTALL httpfs; COPY orders TO ''/tmp/x''' AS note
