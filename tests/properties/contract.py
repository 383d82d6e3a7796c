"""The contract every property of this folder checks: hostile bytes give a result or a
GovopsError whose text is one line naming the file, never another exception.

"One line" is what a terminal and a CI log show as one: no line break of any kind Python
knows (LF, CR, VT, FF, FS/GS/RS, NEL, U+2028/2029) and no control character (an ESC would let
the data repaint the terminal)."""

from __future__ import annotations

import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from engine.errors import GovopsError, InputError, InputErrors

T = TypeVar("T")
# CPython's default recursion limit, which the govops command runs under. Hypothesis raises the
# limit while a test runs, which would hide every RecursionError a deep input causes.
RECURSION_LIMIT = 1000


def control_characters(text: str, allowed: str = "") -> list[str]:
    """The control characters (Unicode category Cc) and line/paragraph separators in `text`,
    other than those `allowed`, as their escapes (for a readable assertion message)."""
    return sorted({repr(c) for c in text if c not in allowed
                   and unicodedata.category(c) in ("Cc", "Zl", "Zp")})


def is_one_line(text: str) -> bool:
    return len(text.splitlines()) == 1 and not control_characters(text)


def assert_one_line_naming(error: GovopsError, paths: Iterable[str]) -> None:
    """`error` reads as one line per error, each naming one of `paths` (InputErrors is shown
    one line per error it holds, so each of them is checked alone)."""
    named = tuple(paths)
    parts: tuple[GovopsError, ...] = (error.errors if isinstance(error, InputErrors)
                                      else (error,))
    for part in parts:
        text = InputError.__str__(part) if isinstance(part, InputError) else str(part)
        assert is_one_line(text), f"not one line: {text!r}"
        assert any(path in text for path in named), f"names none of {named}: {text!r}"


def outcome(call: Callable[[], T]) -> T | GovopsError:
    """What `call` gives: its result, or the GovopsError it raised. Any other exception
    propagates, and fails the property with its traceback.

    The call runs as the command would: on a stack of its own (a new thread starts at depth
    0) under the default recursion limit, so an input nested too deep for govops fails here
    as it fails for a user."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    raised = sys.getrecursionlimit()
    sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    finally:
        sys.setrecursionlimit(raised)
    error = box.get("error")
    if isinstance(error, GovopsError):
        return error
    if error is not None:
        raise error
    result: T = box["value"]
    return result
