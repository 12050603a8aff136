"""Reading labelled CSV files with errors a user can act on (English, naming the column)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class DataError(ValueError):
    """Input file unusable: missing, undecodable, empty, or without the named columns."""


def read_csv(path: str | Path, columns: list[str], encoding: str = "utf-8") -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"input file not found: {p}")
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        df = pd.read_csv(p, encoding=enc, dtype=str, keep_default_na=False)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"cannot decode {p} as {encoding} ({e.reason} at byte {e.start}); "
                        f"try --encoding gb18030 or --encoding utf-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"input file is empty: {p}") from None
    except pd.errors.ParserError as e:
        raise DataError(f"cannot parse {p} as CSV: {e}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"column {', '.join(repr(c) for c in missing)} not found in {p}; "
                        f"available columns: {', '.join(map(str, df.columns))}")
    if df.empty:
        raise DataError(f"input file has a header but no rows: {p}")
    return df


def read_labeled(path, text_col: str, label_col: str, encoding: str = "utf-8"):
    """-> (texts, labels, n_skipped). Rows with an empty text or label are skipped and counted."""
    df = read_csv(path, [text_col, label_col], encoding)
    t = df[text_col].astype(str).str.strip()
    lab = df[label_col].astype(str).str.strip()
    ok = (t != "") & (lab != "")
    if not ok.any():
        raise DataError(f"no row of {path} has both a {text_col!r} and a {label_col!r} value")
    return t[ok].tolist(), lab[ok].tolist(), int((~ok).sum())
