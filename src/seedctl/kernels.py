"""Arrow compute functions called by name, for the code on the restore path (pg/, timerange).

`import pyarrow.compute` costs ~40 ms (it wraps every one of Arrow's ~286 functions at import),
more than a restore of a small table spends computing; its wrappers, and the Array methods
that import it (cast, fill_null, is_null, filter), end in pyarrow._compute.call_function,
called here directly with the same options: the same kernels, the same results.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyarrow._compute import CastOptions, FilterOptions, NullOptions, call_function


def call(name: str, *args: Any) -> Any:
    """pc.<name>(*args) for a function called without options (its defaults)."""
    return call_function(name, list(args))


def cast(values: Any, target_type: pa.DataType) -> Any:
    """pc.cast(values, target_type) and values.cast(target_type): a safe cast."""
    return call_function("cast", [values], CastOptions.safe(target_type))


def fill_null(values: Any, fill_value: Any) -> Any:
    """pc.fill_null and values.fill_null: a plain value becomes a scalar of the values' type."""
    if not isinstance(fill_value, (pa.Array, pa.ChunkedArray, pa.Scalar)):
        fill_value = pa.scalar(fill_value, type=values.type)
    elif values.type != fill_value.type:
        fill_value = pa.scalar(fill_value.as_py(), type=values.type)
    return call_function("coalesce", [values, fill_value])


def is_null(values: Any) -> Any:
    """values.is_null(): true where a value is null (NaN is not null)."""
    return call_function("is_null", [values], NullOptions(nan_is_null=False))


def filter_rows(data: Any, mask: Any) -> Any:
    """data.filter(mask) for an array or a record batch: rows where mask is null are dropped."""
    return call_function("filter", [data, mask], FilterOptions("drop"))
