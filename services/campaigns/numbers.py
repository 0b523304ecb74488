"""A campaign's phone numbers from pasted text or a CSV upload: clean E.164 numbers plus, for each
rejected row, where it was and why (bad rows are reported, not fatal)."""
from __future__ import annotations

import csv
import io

from services import calls
from services.errors import InvalidInput

MAX_NUMBERS = 10_000
MAX_CSV_BYTES = 5 * 1024 * 1024

_SPLIT = str.maketrans({",": "\n", ";": "\n", "\t": "\n"})


def parse_numbers(text) -> tuple[list[str], list[dict]]:
    """Numbers pasted as text, one per line or comma separated. Returns (numbers, bad_rows).

    bad_rows: {"row": position in the list (1-based), "value", "reason"} for malformed entries and
    duplicates; they are reported, not fatal. Raises InvalidInput when no valid number remains or there
    are more than MAX_NUMBERS.
    """
    if not isinstance(text, str):
        raise InvalidInput("Paste the phone numbers as text, one per line or separated by commas.")
    if len(text) > MAX_CSV_BYTES:
        raise InvalidInput("That is too much text; split the list into several campaigns.")
    values = [v.strip() for v in text.translate(_SPLIT).split("\n")]
    return _collect(enumerate((v for v in values if v), start=1))


def parse_csv(data: bytes) -> tuple[list[str], list[dict]]:
    """A CSV upload with a `to_number` column. Returns (numbers, bad_rows); rows are counted as a
    spreadsheet shows them (the header is row 1). Raises InvalidInput for an empty, binary or
    malformed file, a missing `to_number` column, no valid rows, or more than MAX_NUMBERS numbers."""
    rows_at = _rows(_decode(data))
    if not rows_at:
        raise InvalidInput("The CSV file is empty.")
    col = _number_column(rows_at[0][1])
    items = [(n, r[col].strip() if col < len(r) else "") for n, r in rows_at[1:]]
    if not items:
        raise InvalidInput("The CSV file has a header but no rows of numbers.")
    return _collect(items)


def _decode(data) -> str:
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidInput("Upload the CSV file as bytes.")
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB.")
    if not data.strip():
        raise InvalidInput("The CSV file is empty.")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file is not a text CSV (it is not UTF-8 text). Export it as CSV UTF-8.") from None
    if "\x00" in text:
        raise InvalidInput("The file is not a text CSV (it contains binary data).")
    return text


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) of every row that is not blank."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidInput(f"The CSV file could not be read: {exc}.") from None
    return [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]


def _number_column(header: list[str]) -> int:
    names = [c.strip().lower().lstrip("\ufeff") for c in header]
    if "to_number" not in names:
        shown = ", ".join(repr(c.strip()[:30]) for c in header[:10]) or "none"
        raise InvalidInput(f"The CSV needs a 'to_number' column in its first row (found columns: {shown}).")
    return names.index("to_number")


def _collect(items) -> tuple[list[str], list[dict]]:
    numbers: list[str] = []
    bad: list[dict] = []
    first_row: dict[str, int] = {}
    for row, value in items:
        if not value:
            bad.append({"row": row, "value": "", "reason": "No number in this row."})
            continue
        try:
            n = calls.normalize_number(value)
        except InvalidInput as exc:
            bad.append({"row": row, "value": value[:40], "reason": exc.message})
            continue
        if n in first_row:
            bad.append({"row": row, "value": value[:40], "reason": f"Duplicate of row {first_row[n]}."})
            continue
        first_row[n] = row
        numbers.append(n)
    if not numbers:
        detail = "; ".join(f"row {b['row']}: {b['reason']}" for b in bad[:3])
        raise InvalidInput("No valid phone numbers found" + (f" ({detail})" if detail else "") +
                           ". Write each with its country code, like +919876543210, or as a 10-digit Indian "
                           "mobile number.")
    if len(numbers) > MAX_NUMBERS:
        raise InvalidInput(f"{len(numbers):,} numbers: a campaign takes at most {MAX_NUMBERS:,}. "
                           "Split the list into several campaigns.")
    return numbers, bad
