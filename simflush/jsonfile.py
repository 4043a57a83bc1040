"""Reading JSON documents with errors that name the file, the line and the field."""

import json
import re

from .errors import ConfigError


def json_key_line(text: str, key: str) -> int:
    """1-based line of ``"key":`` in ``text`` (0 if absent), for error messages."""
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def parse_json_object(text: str, where: str, what: str) -> dict:
    """``text`` as a JSON object; ``where`` (a file or preset name) and ``what`` go into the errors."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}:1: expected a JSON object ({what})")
    return doc
