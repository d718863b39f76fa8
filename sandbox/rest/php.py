"""PHP's own rules for request variables, so the sandbox reads and writes the wire as Bitrix24 does.

Bitrix24 is PHP: its REST server reads query strings and form bodies with `parse_str` (through
`php_default_treat_data` and `php_register_variable_ex`, php-src main/php_variables.c), decodes
JSON into PHP arrays, answers with `json_encode`, and posts events form-encoded as
`http_build_query` does. This module is written from those functions (php-src master), not from
any client's encoder; its results match PHP 8.2's on every input recorded in
tests/sandbox/data/php_forms.json. docs/sandbox.md ("Form decoding") lists the rules and choices.

Decoded data is first built as `PhpArray` (ordered int/str keys, as PHP keeps them) and then turned
into JSON-like Python values with `to_json`: keys 0..n-1 in order become a list, anything else a
dict with string keys, as `json_encode` writes a PHP array.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

# PHP's limits. max_input_vars: Bitrix24 requires at least 10,000 (its site checker); PHP drops the
# variables past it silently. max_input_nesting_level is PHP's default.
MAX_INPUT_VARS = 10_000
MAX_NESTING = 64

_LONG_MAX = 2**63 - 1
_CANONICAL_INT = re.compile(r"(?:0|-?[1-9][0-9]*)")
_C_SPACE = " \t\n\v\f\r"  # C isspace() in the "C" locale
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")

PhpKey = int | str


class PhpArray(dict[PhpKey, Any]):
    """A PHP array: ordered keys that are ints or non-numeric strings, and a next free index."""

    def __init__(self) -> None:
        super().__init__()
        self.next_free: int | None = None  # None until an integer key is used: `[]` then gives 0

    def put(self, key: PhpKey, value: Any) -> None:
        self[key] = value
        if isinstance(key, int) and (self.next_free is None or key >= self.next_free):
            # The next index follows the largest integer key, negative ones included (PHP 8).
            self.next_free = key + 1 if key < _LONG_MAX else _LONG_MAX

    def append(self, value: Any) -> bool:
        """`$a[] = value`; False when PHP refuses it (the next index is taken at PHP_INT_MAX)."""
        index = 0 if self.next_free is None else self.next_free
        if index in self:
            return False
        self.put(index, value)
        return True


def php_key(key: str | int) -> PhpKey:
    """The key PHP stores: a canonical decimal integer string ("5", "-3", not "05" or "-0") is an int."""
    if isinstance(key, int):
        return key
    if _CANONICAL_INT.fullmatch(key) and -_LONG_MAX - 1 <= int(key) <= _LONG_MAX:
        return int(key)
    return key


def is_list_keys(keys: list[PhpKey]) -> bool:
    """json_encode writes an array as a JSON list exactly when its keys are 0..n-1 in order."""
    return all(key == index and isinstance(key, int) for index, key in enumerate(keys))


def to_json(value: Any, *, empty_as_object: bool = False) -> Any:
    """The JSON-like value json_encode would write for a PHP value built by this module.

    With `empty_as_object`, an empty array stays an empty map: PHP has one array type, and the
    sandbox's methods test "is an array" on maps, so an empty `fields` must not turn into a list."""
    if isinstance(value, Mapping):
        keys = [php_key(k) for k in value]
        children = [to_json(v, empty_as_object=empty_as_object) for v in value.values()]
        if is_list_keys(keys) and not (empty_as_object and not keys):
            return children
        return {str(k): v for k, v in zip(keys, children, strict=True)}
    if isinstance(value, list | tuple):
        return [to_json(v, empty_as_object=empty_as_object) for v in value]
    return value


def from_json(value: Any) -> Any:
    """A json_decode'd body as PHP holds it: an object keyed "0".."n-1" in order is that list
    (an empty one stays a map: see to_json)."""
    return to_json(value, empty_as_object=True)


# --- parse_str -------------------------------------------------------------------------------


def url_decode(raw: bytes) -> bytes:
    """php_url_decode: '+' is a space, %XX a byte; a '%' not followed by two hex digits stays."""
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x2B:
            out.append(0x20)
        elif byte == 0x25 and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 2
        else:
            out.append(byte)
        i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(chr(c) in "0123456789abcdefABCDEF" for c in pair)


def _text(raw: bytes) -> str:
    # PHP keeps bytes; invalid UTF-8 cannot travel back in a JSON answer, so it is replaced.
    return raw.decode("utf-8", errors="replace")


def parse_str(query: str | bytes) -> PhpArray:
    """PHP's parse_str (php_default_treat_data with arg_separator.input "&")."""
    data = query.encode("utf-8") if isinstance(query, str) else query
    result = PhpArray()
    count = 0
    for token in data.split(b"&"):
        if not token:  # php_strtok_r skips empty tokens
            continue
        count += 1
        if count > MAX_INPUT_VARS:
            break
        name, has_value, value = token.partition(b"=")
        decoded_value = url_decode(value) if has_value else b""
        # The name is a C string from here on: a decoded NUL ends it.
        decoded_name = url_decode(name).split(b"\0", 1)[0]
        register_variable(result, _text(decoded_name), _text(decoded_value))
    return result


def parse_pairs(pairs: list[tuple[str, Any]]) -> PhpArray:
    """Already-decoded (name, value) pairs, as PHP registers multipart/form-data fields."""
    result = PhpArray()
    for count, (name, value) in enumerate(pairs, start=1):
        if count > MAX_INPUT_VARS:
            break
        register_variable(result, name.split("\0", 1)[0], value)
    return result


def register_variable(track: PhpArray, var_name: str, value: Any) -> None:
    """php_register_variable_ex: store `value` under a name such as `fields[PHONE][0][VALUE]`."""
    var_name = var_name.lstrip(" ")
    top: list[str] = []
    rest = ""
    is_array = False
    for position, char in enumerate(var_name):
        if char in " .":
            top.append("_")  # PHP variable names cannot hold spaces or dots
        elif char == "[":
            is_array = True
            rest = var_name[position + 1 :]
            break
        else:
            top.append(char)
    var = "".join(top)
    for prefix in ("__Host-", "__Secure-"):
        # A name mangled into a cookie-prefix name is dropped (php_variables.c).
        if var.startswith(prefix) and not var_name.startswith(prefix):
            return
    if not var:
        return
    if not is_array:
        track.put(php_key(var), value)
        return
    _register_nested(track, var, rest, value)


def _register_nested(track: PhpArray, var: str, rest: str, value: Any) -> None:
    table = track
    index: str | None = var
    position = 0  # just after a '['
    nest_level = 0
    while True:
        nest_level += 1
        if nest_level > MAX_NESTING:
            # Too deep: the whole top-level variable is dropped, values set earlier included.
            track.pop(php_key(var), None)
            return
        start = position
        probe = position + 1 if position < len(rest) and rest[position] in _C_SPACE else position
        if probe < len(rest) and rest[probe] == "]":
            new_index: str | None = None  # `[]` (or `[ ]`): append
            close = probe
        else:
            close = rest.find("]", probe)
            if close == -1:
                # Not an index: at the first level the '[' becomes '_' and the name runs on;
                # deeper, the rest of the name is ignored.
                if nest_level == 1:
                    tail = "".join("_" if c in " .[" else c for c in rest[start:])
                    index = f"{var}_{tail}"
                break
            new_index = rest[start:close]
        if index is None:
            child = PhpArray()
            if not table.append(child):
                return
        else:
            key = php_key(index)
            existing = table.get(key)
            if isinstance(existing, PhpArray):
                child = existing
            else:
                child = PhpArray()
                table.put(key, child)
        table = child
        index = new_index
        position = close + 1
        if position < len(rest) and rest[position] == "[":
            position += 1
            continue
        break  # text after a ']' that does not open another '[' is ignored
    if index is None:
        table.append(value)
    else:
        table.put(php_key(index), value)


# --- values ----------------------------------------------------------------------------------


def php_bool(value: Any) -> bool:
    """PHP's (bool): "", "0", 0, 0.0, null and an empty array are false; everything else true."""
    if value is None:
        return False
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, Mapping | list | tuple):
        return len(value) > 0
    return bool(value)


def php_string(value: int | float) -> str:
    """(string) of a PHP number: floats with `precision` 14 ("0.1", "1.0E+20", "INF")."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = f"{value:.14G}"
    if "E" not in text:
        return text
    mantissa, exponent = text.split("E")
    if "." not in mantissa:
        mantissa += ".0"
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}E{sign}{int(exponent.lstrip('+-'))}"


# --- http_build_query ------------------------------------------------------------------------


def url_encode(text: str) -> str:
    """PHP's urlencode (RFC 1738): letters, digits and -_. stay, a space is '+', all else %XX."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def http_build_query(data: Mapping[Any, Any] | list[Any]) -> str:
    """PHP's http_build_query($data) with its defaults ("&", PHP_QUERY_RFC1738).

    Nested keys are written `a%5Bb%5D`; null values and empty arrays produce nothing; true is
    "1" and false "0".
    """
    pairs: list[str] = []
    _encode_into(pairs, data, prefix=None)
    return "&".join(pairs)


def _items(value: Mapping[Any, Any] | list[Any] | tuple[Any, ...]) -> list[tuple[Any, Any]]:
    return list(value.items()) if isinstance(value, Mapping) else list(enumerate(value))


def _encode_into(pairs: list[str], value: Any, prefix: str | None) -> None:
    for key, child in _items(value):
        name = url_encode(str(key)) if prefix is None else f"{prefix}%5B{url_encode(str(key))}%5D"
        if isinstance(child, Mapping | list | tuple):
            _encode_into(pairs, child, name)
        elif child is None:
            continue
        elif isinstance(child, bool):
            pairs.append(f"{name}={'1' if child else '0'}")
        elif isinstance(child, int | float):
            pairs.append(f"{name}={url_encode(php_string(child))}")
        else:
            pairs.append(f"{name}={url_encode(str(child))}")
