"""The engines goex stages on: ``base`` (the Backend contract), ``cloning`` (what a clone is),
``postgres/`` (the only importer of psycopg) and ``duckdb/`` (the only importer of duckdb).

Nothing is imported here, so importing one engine never loads the other's driver.
"""
