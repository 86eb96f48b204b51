"""How DuckDB's JSON columns appear in goex's row images: ``to_json`` writes a JSON value anew
when it reads one, so a JSON column (or a list or array of them) is imaged as the VARCHAR text
it holds, and JSON inside a struct or a map cannot be imaged exactly."""

from __future__ import annotations

import re
from collections.abc import Mapping

_JSON_LIST = re.compile(r"JSON((?:\[[0-9]*\])*)")  # JSON, JSON[], JSON[2][] ...


# DuckDB types json_transform cannot read (or, a BLOB, reads otherwise than to_json writes
# it): read as the text to_json wrote, then cast back.
CAST_FROM_TEXT = ("BLOB", "BIT", "BIGNUM", "VARINT")


def duckdb_text_type(kind: str) -> str | None:
    """The type a DuckDB JSON column's image holds its values as: VARCHAR (or a list or array
    of it), keeping each value's text. Other JSON inside a type (a struct's, a map's) is not
    kept: the backend leaves such a table without images."""
    found = _JSON_LIST.fullmatch(kind)
    return None if found is None else f"VARCHAR{found.group(1)}"


def duckdb_json_unkept(types: Mapping[str, str]) -> str | None:
    """Why a DuckDB table's rows cannot be imaged exactly, if they cannot: JSON inside a struct
    or a map, whose text to_json writes anew (the undo would put back other text)."""
    inside = [c for c, t in types.items() if "JSON" in t and duckdb_text_type(t) is None]
    if not inside:
        return None
    return f"column {inside[0]} holds JSON inside a struct or map, whose text DuckDB does not keep"
