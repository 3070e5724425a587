"""RFC 8785 canonical JSON (JCS): the one byte form of a JSON value that the log hashes.

An event's leaf in the log is exactly the canonical JSON of the event, so recomputing it here
from an event read back from the server proves (with an inclusion proof) that these are the
bytes the log committed to. The rules, as the server's ``ledger::jcs`` writes them:

* object members sorted by their keys' UTF-16 code units; no white space;
* strings escape only ``"``, ``\\`` and U+0000..U+001F (``\\b \\t \\n \\f \\r`` short forms,
  the others ``\\u00xx`` in lower-case hex); everything else is written as UTF-8;
* numbers as ECMAScript's ``Number.prototype.toString`` writes the IEEE-754 double: ``1.0`` is
  ``1``, ``1e21`` is ``1e+21``, ``1e-7`` is ``1e-7``, ``-0`` is ``0``; NaN and infinities have no
  form; integers beyond 2^53 only when they are exactly a double.
"""

from __future__ import annotations

import math
from typing import Any, List

from .errors import CanonicalJsonError

__all__ = ["canonical_json", "format_number"]

_MAX_EXACT_INTEGER = 1 << 53

_SHORT_ESCAPES = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value (dicts, lists, str, int, float, bool, None).

    Raises :class:`~modeltrail.errors.CanonicalJsonError` for a value JSON cannot hold
    canonically, naming where it is (``$.payload.x[3]``).
    """
    out: List[str] = []
    _write(value, out, "$")
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as e:
        raise CanonicalJsonError(f"a string holds a lone surrogate: {e}") from None


def _write(value: Any, out: List[str], path: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        out.append(_integer(value, path))
    elif isinstance(value, float):
        out.append(format_number(value, path))
    elif isinstance(value, dict):
        keys = list(value.keys())
        for key in keys:
            if not isinstance(key, str):
                raise CanonicalJsonError(f"object key {key!r} at {path} is not a string")
        keys.sort(key=_utf16_units)
        out.append("{")
        for i, key in enumerate(keys):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out, _member_path(path, key))
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, f"{path}[{i}]")
        out.append("]")
    else:
        raise CanonicalJsonError(f"{type(value).__name__} at {path} is not a JSON value")


def _member_path(path: str, key: str) -> str:
    if key and all(c.isascii() and (c.isalnum() or c == "_") for c in key):
        return f"{path}.{key}"
    return f"{path}[{_string(key)}]"


def _utf16_units(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as the code units do.
    return key.encode("utf-16-be", "surrogatepass")


def _string(text: str) -> str:
    parts: List[str] = ['"']
    clean = 0
    for i, ch in enumerate(text):
        code = ord(ch)
        if code < 0x20 or code in (0x22, 0x5C):
            parts.append(text[clean:i])
            parts.append(_SHORT_ESCAPES.get(code) or f"\\u{code:04x}")
            clean = i + 1
    parts.append(text[clean:])
    parts.append('"')
    return "".join(parts)


def _integer(value: int, path: str) -> str:
    if abs(value) <= _MAX_EXACT_INTEGER:
        return str(value)
    # Beyond 2^53 only an integer that is exactly a double has a canonical form (the double's).
    try:
        as_float = float(value)
    except OverflowError:
        raise CanonicalJsonError(f"integer at {path} is beyond any double") from None
    if int(as_float) != value:
        raise CanonicalJsonError(
            f"integer {value} at {path} is beyond ±2^53 and has no exact IEEE-754 double"
        )
    return format_number(as_float, path)


def format_number(value: float, path: str = "$") -> str:
    """A double as ECMAScript writes it (RFC 8785 section 3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise CanonicalJsonError(f"number at {path} is not a finite IEEE-754 double")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + format_number(-value, path)
    # repr gives the shortest digits that read back as the same double, the closest such when
    # there are several: the digits ECMAScript prints.
    mantissa, _, exponent_text = repr(value).partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    stripped = digits.rstrip("0")
    trailing = len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    # value = digits * 10^(n - k)
    n = k + exponent - len(fraction) + trailing
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(e)}"
