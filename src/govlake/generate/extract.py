"""Turn generated frames into landing extracts: format values as the catalog's text formats,
inject bad rows (exactly one defect each, so per-rule counts are exact), write UTF-8 CSV parts.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from govlake.catalog import Source
from govlake.generate.uscc import ALPHABET

# Marks a cell that must carry undecodable bytes; swapped for GBK bytes after UTF-8 encoding
# (a realistic defect: a GBK-encoded fragment inside a UTF-8 file).
SENTINEL = "\ue000"
BAD_BYTES = "宝安".encode("gbk")
ROWS_PER_FILE = 250_000

_GARBAGE = {
    "int": ["约20", "12人", "N/A", "十二"],
    "long": ["约20", "N/A"],
    "double": ["1,234.5", "约500", "--", "12.3万"],
    "date": ["2024年3月5日", "2024/13/45", "20240230", "待定"],
    "timestamp": ["2025-13-01 10:00:00", "2025/06/01 25:61", "昨天下午"],
    "boolean": ["未知", "2", "是否"],
}


def format_frame(df: pd.DataFrame, source: Source) -> pd.DataFrame:
    """Typed pandas columns -> text exactly as the source system would export it ('' = null)."""
    out = {}
    for c in source.columns:
        v = df[c.name]
        if c.type == "string":
            s = v.astype(object).where(v.notna(), "").astype(str)
        elif c.type in ("int", "long"):
            s = pd.array(pd.to_numeric(v), dtype="Int64").astype(str)
            s = pd.Series(s, index=df.index).replace("<NA>", "")
        elif c.type == "double":
            x = pd.to_numeric(v).to_numpy(float)
            s = pd.Series(np.where(np.isnan(x), "", np.round(x, 2).astype(str)), index=df.index)
        elif c.type == "date":
            s = pd.Series(v.to_numpy().astype("datetime64[D]").astype(str), index=df.index).replace("NaT", "")
        elif c.type == "timestamp":
            s = pd.Series(v.to_numpy().astype("datetime64[s]").astype(str), index=df.index).replace("NaT", "")
            s = s.str.replace("T", " ", regex=False)
        elif c.type == "boolean":
            s = v.map({True: "true", False: "false"}).where(v.notna(), "").astype(str)
            s = s.replace("nan", "")
        out[c.name] = s.to_numpy(dtype=object)
    return pd.DataFrame(out)


def _rule_columns(source: Source, rule: str) -> list[str]:
    if rule == "bad_encoding":
        free = [c.name for c in source.columns if c.type == "string" and not (c.enum or c.pattern or c.check)]
        return free or [c.name for c in source.columns if c.type == "string"]
    return [c.name for c in source.columns if rule in c.rules()]


def inject_defects(df: pd.DataFrame, source: Source, rng: np.random.Generator, share: float,
                   min_per_rule: int = 1) -> tuple[pd.DataFrame, dict]:
    """Return (frame with bad rows, {rule: count}). Each bad row has exactly one defect; rows
    copied for duplicate_key are clean originals, and the copies go after them. Full extracts
    get at least min_per_rule per rule so every rule is exercised; small deltas pass 0."""
    n = len(df)
    rules = source.rules()
    counts = {r: 0 for r in rules}
    if share <= 0 or n == 0:
        return df, counts
    per = max(min_per_rule, round(share * n / len(rules)))
    if per == 0:
        return df, counts
    df = df.copy()
    used = np.zeros(n, bool)
    order = rng.permutation(n)
    fmt = {c.name: c for c in source.columns}
    dup_rows = []

    def take(eligible: np.ndarray, k: int) -> np.ndarray:
        cand = order[eligible[order] & ~used[order]][:k]
        used[cand] = True
        return cand

    for rule in rules:
        if rule == "duplicate_key":
            rows = take(np.ones(n, bool), min(per, n // 4 + 1))
            dup_rows = list(rows)
            counts[rule] = len(rows)
            continue
        cols = _rule_columns(source, rule)
        col_pick = np.array(cols)[rng.integers(0, len(cols), n)]
        done = 0
        for col in cols:
            col_mask = col_pick == col
            v = df[col].to_numpy(dtype=object)
            nonempty = v != ""
            c = fmt[col]
            if rule == "bad_encoding":
                rows = take(col_mask, per - done)
                for r in rows:
                    s = v[r]
                    k = len(s) // 2
                    df.iat[r, df.columns.get_loc(col)] = s[:k] + SENTINEL + s[k:]
            elif rule == "required":
                rows = take(col_mask, per - done)
                df.iloc[rows, df.columns.get_loc(col)] = ""
            elif rule == "type":
                rows = take(col_mask, per - done)
                g = _GARBAGE[c.type]
                df.iloc[rows, df.columns.get_loc(col)] = [g[i % len(g)] for i in range(len(rows))]
            elif rule == "enum":
                rows = take(col_mask, per - done)
                bad = "其他" if "其他" not in c.enum else "未知"
                df.iloc[rows, df.columns.get_loc(col)] = bad
            elif rule == "range":
                rows = take(col_mask, per - done)
                vals = []
                for i in range(len(rows)):
                    below = c.min is not None and (c.max is None or i % 2 == 0)
                    x = (c.min - 1) if below else (c.max * 2 if c.max > 0 else c.max + 1)
                    vals.append(str(int(x)) if c.type in ("int", "long") else f"{float(x):.1f}")
                df.iloc[rows, df.columns.get_loc(col)] = vals
            elif rule == "pattern":
                rows = take(col_mask & nonempty, per - done)
                vals = []
                for r in rows:
                    s = v[r][:-1]
                    if re.fullmatch(c.pattern, s):
                        s = v[r] + "X"
                    vals.append(s)
                df.iloc[rows, df.columns.get_loc(col)] = vals
            elif rule == "uscc":
                rows = take(col_mask & nonempty, per - done)
                df.iloc[rows, df.columns.get_loc(col)] = [
                    v[r][:17] + ALPHABET[(ALPHABET.index(v[r][17]) + 1 + int(rng.integers(0, 30))) % 31] for r in rows]
            elif rule == "after":
                base = df[c.after].to_numpy(dtype=object)
                rows = take(col_mask & (base != ""), per - done)
                if c.type == "date":
                    vals = [str(np.datetime64(base[r]) - np.timedelta64(int(rng.integers(1, 200)), "D")) for r in rows]
                else:
                    vals = [str(np.datetime64(base[r].replace(" ", "T")) - np.timedelta64(int(rng.integers(1, 72)), "h")).replace("T", " ")
                            for r in rows]
                df.iloc[rows, df.columns.get_loc(col)] = vals
            done += len(rows)
            if done >= per:
                break
        counts[rule] = done
    if dup_rows:
        # Copies keep every value; some differ in a non-key text field (a re-sent, edited record).
        copies = df.iloc[sorted(dup_rows)].copy()
        df = pd.concat([df, copies], ignore_index=True)
    return df, counts


def write_parts(df: pd.DataFrame, folder: Path, rows_per_file: int = ROWS_PER_FILE) -> list[str]:
    """Write part-00000.csv ... (UTF-8, header, \\n line ends, RFC 4180 quoting). Cells holding
    SENTINEL get undecodable bytes, so those lines are written as raw bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.csv"):
        old.unlink()
    files = []
    sentinel = SENTINEL.encode("utf-8")
    for k, start in enumerate(range(0, max(len(df), 1), rows_per_file)):
        part = df.iloc[start:start + rows_per_file]
        data = part.to_csv(index=False, lineterminator="\n").encode("utf-8").replace(sentinel, BAD_BYTES)
        path = folder / f"part-{k:05d}.csv"
        path.write_bytes(data)
        files.append(path.name)
    return files
