"""Columns of data made ready for the server's JSON: pandas DataFrames and Series, numpy
arrays, and plain lists become lists of JSON values, one per row.

The monitoring endpoint (``POST /api/v1/monitoring-batches``) reads numerical features as
numbers, ``null`` for a missing cell and the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"``; categorical features as strings (numbers and booleans are read as their
spelling) and ``null``. So here:

* a float NaN in a numeric column becomes ``"NaN"`` (in a text column, as pandas marks a
  missing string, ``null``) and infinities ``"Infinity"`` / ``"-Infinity"`` (the server
  counts them per feature; they are never silently dropped);
* ``None``, ``pandas.NA`` and ``NaT`` become ``null`` (a missing cell);
* numpy scalars become Python numbers and booleans; dates and times their ISO text.

pandas and numpy are optional: nothing here imports them unless the value given is theirs.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__all__ = ["to_json_column", "to_json_columns", "Columns"]

#: A table of columns: a pandas DataFrame, or a mapping of column name to a sequence (list,
#: numpy array, pandas Series).
Columns = Union[Mapping[str, Any], Any]


def _is_missing_marker(value: Any) -> bool:
    """pandas.NA, NaT and friends, without importing pandas."""
    kind = type(value).__name__
    return kind in ("NAType", "NaTType")


def _scalar(value: Any, keep_nan_as_null: bool) -> Any:
    if value is None or _is_missing_marker(value):
        return None
    if isinstance(value, bool):
        return value
    # numpy scalars: .item() gives the Python value.
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        value = item()
        if isinstance(value, bytes):
            value = value.decode("utf-8")
    if isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None if keep_nan_as_null else "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return str(value)


def to_json_column(values: Any, nan_as_null: bool = False) -> List[Any]:
    """One column as a list of JSON values (see the module's rules).

    ``values`` may be a list or tuple, a numpy array (1-D), or a pandas Series or Index.
    With ``nan_as_null`` a float NaN is a missing cell (``null``) instead of ``"NaN"``: the
    way pandas itself marks missing numbers.
    """
    if isinstance(values, (str, bytes)) or isinstance(values, Mapping):
        raise TypeError("a column is a sequence of values, one per row")
    # pandas Series / Index and numpy arrays: iterate Python-side values.
    tolist = getattr(values, "tolist", None)
    dtype = getattr(values, "dtype", None)
    if getattr(dtype, "kind", "") in ("O", "S", "U"):
        # In a column of text (pandas object, string or category dtype) NaN marks a missing
        # cell, never a number.
        nan_as_null = True
    if callable(tolist):
        ndim = getattr(values, "ndim", 1)
        if ndim != 1:
            raise ValueError(f"a column is one-dimensional; this array has {ndim} dimensions")
        values = tolist()
    return [_scalar(v, nan_as_null) for v in values]


def to_json_columns(
    table: Columns,
    names: Optional[Sequence[str]] = None,
    nan_as_null: bool = False,
) -> Dict[str, List[Any]]:
    """Columns by name as lists of JSON values.

    ``table`` is a pandas DataFrame (its columns, or ``names`` of them) or a mapping of name to
    column. Every column must have the same number of rows.
    """
    if hasattr(table, "columns") and hasattr(table, "__getitem__") and not isinstance(
        table, Mapping
    ):
        chosen = list(names) if names is not None else [str(c) for c in table.columns]
        columns = {str(name): to_json_column(table[name], nan_as_null) for name in chosen}
    elif isinstance(table, Mapping):
        chosen = list(names) if names is not None else list(table.keys())
        columns = {str(name): to_json_column(table[name], nan_as_null) for name in chosen}
    else:
        raise TypeError("columns are a pandas DataFrame or a mapping of name to values")
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns differ in length: {lengths}")
    return columns
