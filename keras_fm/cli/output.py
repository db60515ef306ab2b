"""What the ``keras-fm`` commands print: results, warnings, one-line errors."""

import json
import re
import sys
from typing import Any


def warn(text: str) -> None:
    print(f"keras-fm: warning: {text}", file=sys.stderr)


def to_json(result: Any, indent: int | None = 2) -> str:
    """Strict JSON (no NaN or Infinity tokens)."""
    return json.dumps(result, indent=indent, allow_nan=False)


def one_line(error: BaseException) -> str:
    """A readable single line for any error, malformed-input ones included."""
    text = str(getattr(error, "message", None) or error)
    found = re.search(r"keras_fm: malformed input: [^\]\n]*", text)
    if found:
        return found.group(0).rstrip("'\" ")
    return " ".join(text.split())[:500] or type(error).__name__
