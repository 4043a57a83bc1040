"""Reading input files with errors that name the file, the line and the field.

``read_input`` turns every way a file can be unreadable (missing, a directory, binary, UTF-16, a
truncated gzip) into one ConfigError line; ``validate_fields`` checks a parsed JSON document against a
pydantic schema and reports the first bad field as ``FILE:LINE: field X = V: expected ...``.
"""

import gzip
import json
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import ConfigError

T = TypeVar("T")


def json_key_line(text: str, key: str | Sequence[str | int]) -> int:
    """1-based line of ``"key":`` in ``text`` (0 if absent), for error messages.

    ``key`` may be a path (``("timing", "online_time_s")``): each key is searched after the previous
    one, so a nested field is found under its parent; list indices in the path are skipped.
    """
    keys = [key] if isinstance(key, str) else [k for k in key if isinstance(k, str)]
    pos, found = 0, None
    for k in keys:
        match = re.compile(rf'"{re.escape(k)}"\s*:').search(text, pos)
        if match is None:
            break
        pos, found = match.end(), match
    return text.count("\n", 0, found.start()) + 1 if found else 0


def read_input(path: Path, what: str) -> tuple[bytes, str]:
    """The raw bytes and the UTF-8 text of ``path`` (gunzipped if it is gzip): ConfigError if unreadable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    data = raw
    if raw[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise ConfigError(f"{path}: cannot read {what}: truncated or corrupt gzip ({exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read {what}: not UTF-8 text (binary, or UTF-16?) "
                          f"at byte {exc.start}") from None
    if "\x00" in text:
        raise ConfigError(f"{path}:{text.count(chr(10), 0, text.index(chr(0))) + 1}: cannot read {what}: "
                          "a NUL byte (a binary file?)")
    return raw, text


def parse_json_object(text: str, where: str, what: str) -> dict:
    """``text`` as a JSON object; ``where`` (a file or preset name) and ``what`` go into the errors."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ConfigError(f"{where}:1: not valid JSON (nested too deep)") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}:1: expected a JSON object ({what})")
    return doc


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_fields(schema: type[T] | Any, doc: Any, text: str, where: str, prefix: Sequence[str | int] = ()) -> T:
    """``doc`` validated by ``schema`` (a pydantic model, or any type a ``TypeAdapter`` takes).

    The first error is one ConfigError line ``WHERE:LINE: field X = V: expected ...`` (``prefix``:
    the path of ``doc`` inside the file, for the field's name and line).
    """
    try:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return schema.model_validate(doc)
        return TypeAdapter(schema).validate_python(doc)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [*prefix, *err["loc"]]
        line = json_key_line(text, loc) or json_key_line(text, [k for k in loc if isinstance(k, str)][-1:]) or 1
        if err["type"] == "missing":
            raise ConfigError(f"{where}:{line}: missing field {_dotted(loc)!r}") from None
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{where}:{line}: unknown field {_dotted(loc)!r}") from None
        value = repr(err.get("input"))
        value = value if len(value) <= 60 else value[:57] + "..."
        raise ConfigError(f"{where}:{line}: field {_dotted(loc)} = {value}: expected {_expected(err)}") from None


def _expected(err: dict) -> str:
    msg = err["msg"]
    msg = msg.removeprefix("Input should be ").removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg[:1].lower() + msg[1:]
