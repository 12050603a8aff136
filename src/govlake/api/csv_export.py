"""Product rows as a CSV file for spreadsheets (导出).

Excel, WPS and LibreOffice run a cell whose text begins with `=`, `+`, `-` or `@` as a formula
(a tab or carriage return in front is skipped the same way), so a value typed into a source system
such as `=HYPERLINK("http://…","点击")` would become a live link or command in the file a
department opens. Following OWASP's CSV injection guidance such a string cell is written with a
leading single quote, which the spreadsheet shows as text. Only the export does this: the lake and
the JSON API keep the value as it was received.

The file starts with a UTF-8 byte order mark: without it Excel opens UTF-8 as the local code page
and the Chinese text is garbled.
"""

from __future__ import annotations

import csv
import io
import json

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralised(value):
    """A string that a spreadsheet would run as a formula, prefixed with `'`; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):  # arrays and maps as in the JSON API
        return json.dumps(value, ensure_ascii=False, default=str)
    return neutralised(value)


def csv_document(columns: list[str], rows: list[dict]) -> str:
    """The header and rows as CSV text (RFC 4180, CRLF line ends), BOM first, cells neutralised."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    w.writerows([_cell(r.get(c)) for c in columns] for r in rows)
    return BOM + out.getvalue()
