"""Input checks shared by every service: one definition each, one message style.

Money has its own module (services.money); identifiers that belong to a concept (user ids, call ids)
live with that concept. What is here is generic: a bounded whole number and a bounded piece of text.
"""
from __future__ import annotations

from services.errors import InvalidInput


def whole_number(value, lo: int | None = None, hi: int | None = None, *, what: str = "Value",
                 unit: str = "") -> int:
    """`value` if it is an int (never a bool) within [lo, hi]; else InvalidInput naming `what`."""
    ok = not isinstance(value, bool) and isinstance(value, int) and \
        (lo is None or value >= lo) and (hi is None or value <= hi)
    if ok:
        return value
    unit = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        raise InvalidInput(f"{what} must be a whole number{unit} from {lo:,} to {hi:,}.")
    if lo is not None:
        raise InvalidInput(f"{what} must be a whole number{unit} of at least {lo:,}.")
    if hi is not None:
        raise InvalidInput(f"{what} must be a whole number{unit} of at most {hi:,}.")
    raise InvalidInput(f"{what} must be a whole number{unit}.")


# Characters a person never means to store: C0/C1 controls (NUL, BEL, ESC...) and the bidirectional
# embeddings, overrides and isolates, which make a name or reason display as something else (U+202E
# turns "Rao\u202Egnp.exe" into "Raoexe.png"). Line breaks and tabs pass only where `lines=True`.
_BIDI = {0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING", 0x202C: "POP DIRECTIONAL FORMATTING",
         0x202D: "LEFT-TO-RIGHT OVERRIDE", 0x202E: "RIGHT-TO-LEFT OVERRIDE", 0x2066: "LEFT-TO-RIGHT ISOLATE",
         0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE", 0x2069: "POP DIRECTIONAL ISOLATE"}
_LINE_BREAKS = frozenset("\n\r\t")


def text(value, *, what: str, most: int, least: int = 0, lines: bool = False) -> str:
    """`value` if it is a str of `least`..`most` characters with no control or bidirectional-override
    character (line breaks and tabs allowed when `lines`); else InvalidInput naming `what`.

    THE check for free text a person stores (display names, reasons, campaign names, notes)."""
    if not isinstance(value, str) or not least <= len(value) <= most:
        span = f"{least} to {most}" if least else f"at most {most}"
        raise InvalidInput(f"{what} must be text of {span} characters.")
    bad = hidden_character(value, lines=lines)
    if bad is not None:
        raise InvalidInput(f"{what} contains {bad}, which cannot be stored: remove it and try again.")
    return value


def hidden_character(value: str, *, lines: bool = False) -> str | None:
    """A description of the first control or bidirectional-override character in `value`, else None."""
    for ch in value:
        cp = ord(ch)
        if cp in _BIDI:
            return f"a hidden direction character (U+{cp:04X} {_BIDI[cp]})"
        if (cp < 0x20 or 0x7F <= cp <= 0x9F) and not (lines and ch in _LINE_BREAKS):
            name = _CONTROL_NAMES.get(cp, "control character")
            return f"a control character (U+{cp:04X} {name})"
    return None


_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x09: "TAB", 0x0A: "LINE FEED",
                  0x0D: "CARRIAGE RETURN", 0x1B: "ESC", 0x7F: "DEL"}
