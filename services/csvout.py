"""CSV as every export writes it: cells a spreadsheet shows as text and never evaluates, lines streamed one
by one so memory stays flat, rupees (never paise) in money columns."""
from __future__ import annotations

import csv
import io
import unicodedata

from services.money import to_rupees

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); `|` starts a DDE
# call in some, `%` a macro-like expansion in others.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def csv_safe(cell) -> str:
    """Text for a CSV cell that a spreadsheet shows as text, never evaluates. Judged after NFKC (a
    spreadsheet may read a full-width '＝', '＋', '－', '＠' or '｜' as the sign it stands for) and past
    leading format characters (Unicode Cf: a BOM, zero-width and bidi marks are invisible and may be
    dropped by the spreadsheet, leaving the sign first)."""
    text = "" if cell is None else str(cell)
    if text.isascii():  # NFKC leaves ASCII as it is, and no ASCII character is a format character
        return "'" + text if text.startswith(_FORMULA_START) else text
    judged = unicodedata.normalize("NFKC", text)
    start = next((i for i, ch in enumerate(judged) if unicodedata.category(ch) != "Cf"), len(judged))
    return "'" + text if judged.startswith(_FORMULA_START, start) else text


def line(cells) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([csv_safe(c) for c in cells])
    return buf.getvalue()


def csv_rows(rows, *, columns, cells):
    """Lines of CSV text (header first): `cells(row)` gives a row's cells; a generator, so memory stays flat."""
    yield line(columns)
    for r in rows:
        yield line(cells(r))


def dicts_csv(rows: list[dict], columns: list[str]):
    """CSV lines for report rows (paise columns become rupees, named *_rupees)."""
    yield line([c.replace("_paise", "_rupees") for c in columns])
    for r in rows:
        yield line([str(to_rupees(r[c])) if c.endswith("_paise") else r[c] for c in columns])
