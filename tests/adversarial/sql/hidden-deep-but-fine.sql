-- tries: 200 nested parentheses: deep, but within what goex analyses
-- expect: harmless
-- backends: postgres, duckdb
-- message: --decide commit
SELECT {{repeat 200:(}}1{{repeat 200:)}} AS deep
