"""The physical records of a landing CSV file, counted without Spark.

    scan(path, source, clean_dir=None) -> FileScan   records, the malformed ones, encoding stats
    content_hash(scans) -> str                       sha256 of the load's files (restatements)
    first_divergence(path, source, values) -> int    byte offset where Spark's rows part from ours

Spark's parser cannot be the judge of what a file holds: an unclosed quote makes it swallow
every later line into one value, and a short row comes back padded with nulls. So the bytes are
split here first, by Python's csv module (RFC 4180 quoting, strict), with the byte offset of
every record. Records that cannot be whole rows (wrong field count, a quote never closed, a last
line cut off, text after a closing quote, NUL bytes, a field over the limit) are taken out with
their raw text; Spark reads the rest (from a copy without them, when there were any), and the
caller checks that Spark saw exactly the records this scan handed over.

A record whose quoted value runs over line ends but does not come out as a whole row is cut at
its first line end and the following lines are read again as records: one unclosed quote costs
one quarantined line, not the rest of the file.
"""

from __future__ import annotations

import csv
import hashlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from govlake.catalog.sources import Source
from govlake.lakehouse import storage

# A quoted value still open after this many bytes is taken as unclosed (bounds the look-ahead).
MAX_RECORD_BYTES = 64 << 20
BLOCK = 1 << 20
# The csv module refuses fields over 128 KiB; the catalog's max_field_chars decides instead.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))


@dataclass
class BadRecord:
    offset: int      # byte offset of the record's first byte in the file
    line: int        # 1-based line number (the header is line 1)
    rule: str        # one of catalog.sources.RECORD_RULES
    detail: str
    raw: str         # the record's text as in the file (undecodable bytes as U+FFFD)
    end: int = 0     # byte offset just after the record
    column: str | None = None


@dataclass
class FileScan:
    path: Path
    header: list[str]
    header_problem: str | None = None
    records: int = 0                 # physical records: good + bad (blank lines are not records)
    good: int = 0                    # records handed to Spark
    bad: list[BadRecord] = field(default_factory=list)
    undecodable: int = 0             # records with bytes invalid in the declared encoding (or NUL)
    first_undecodable: int | None = None
    sha256: str = ""
    clean_path: Path | None = None   # header + good records, when some records were taken out

    @property
    def name(self) -> str:
        """`<source>/<date>/<file>`, as bronze's _source_file."""
        return "/".join(self.path.parts[-3:])

    @property
    def read_path(self) -> Path:
        return self.clean_path or self.path


class _TooLong(Exception):
    pass


class _Lines:
    """Lines of a binary file with push-back; `taken` holds (offset, line no, bytes) of the lines
    the current record used, `bad_bytes` whether one of them did not decode (or held NUL)."""

    def __init__(self, fh, offset: int, encoding: str):
        self.fh, self.offset, self.encoding = fh, offset, encoding
        self.line_no = 1
        self.pending: deque = deque()
        self.taken: list = []
        self.taken_bytes = 0
        self.bad_bytes = False

    def start(self) -> None:
        self.taken, self.taken_bytes, self.bad_bytes = [], 0, False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pending:
            item = self.pending.popleft()
        else:
            b = self.fh.readline()
            if not b:
                raise StopIteration
            self.line_no += 1
            item = (self.offset, self.line_no, b)
            self.offset += len(b)
        self.taken.append(item)
        self.taken_bytes += len(item[2])
        if self.taken_bytes > MAX_RECORD_BYTES and len(self.taken) > 1:
            raise _TooLong
        b = item[2]
        if b"\x00" in b:
            self.bad_bytes = True
        try:
            return b.decode(self.encoding)
        except UnicodeDecodeError:
            self.bad_bytes = True
            return b.decode(self.encoding, "replace")


def _decodes(b: bytes, encoding: str) -> bool:
    if b"\x00" in b:
        return False
    try:
        b.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def _text(taken, encoding: str) -> str:
    return b"".join(t[2] for t in taken).decode(encoding, "replace")


def _header(fh, encoding: str) -> tuple[list[str], str | None, int]:
    b = fh.readline()
    problem = None
    if b"\x00" in b:
        problem = "the header holds NUL bytes: the file is binary or UTF-16, not " + encoding
    try:
        text = b.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as e:
        problem = problem or f"the header is not valid {encoding} (byte offset {e.start})"
        text = b.decode(encoding, "replace")
    return next(csv.reader([text.lstrip("\ufeff")]), []), problem, len(b)


def scan(path: Path, source: Source, clean_dir: Path | None = None, on_good=None) -> FileScan:
    """Split the file into records and sort out the malformed ones. With clean_dir, a file that
    had some gets a copy without them there (`<clean_dir>/<source>/<date>/<file>`).
    on_good(offset, fields): called for every good record (first_divergence)."""
    path = storage.as_path(path)
    enc, n, limit = source.encoding, len(source.columns), source.max_field_chars
    with storage.open_file(path, "rb") as fh:
        header, problem, start = _header(fh, enc)
        out = FileScan(path, header, problem)
        if problem:
            out.sha256 = file_sha256(fh)
            return out
        lines = _Lines(fh, start, enc)
        reader = csv.reader(lines, strict=True)

        def undecodable(taken):
            out.undecodable += 1
            if out.first_undecodable is None:
                out.first_undecodable = taken[0][0]

        def bad(taken, rule, detail, column=None):
            if any(not _decodes(t[2], enc) for t in taken):
                undecodable(taken)
            off, no, _ = taken[0]
            end = taken[-1][0] + len(taken[-1][2])
            out.bad.append(BadRecord(off, no, rule, detail, _text(taken, enc), end, column))
            out.records += 1

        def split(taken):
            """Quarantine the first line; read the following ones again as records."""
            bad(taken[:1], "unterminated_quote",
                f"a quoted value opened on line {taken[0][1]} is not closed where a whole record of {n} fields "
                f"would end; the record is cut at its line end (引号未闭合)")
            lines.pending.extendleft(reversed(taken[1:]))

        while True:
            lines.start()
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, _TooLong) as e:
                taken = lines.taken
                if not taken:
                    break
                reader = csv.reader(lines, strict=True)
                if len(taken) > 1:
                    split(taken)
                elif "end of data" in str(e) and not taken[-1][2].endswith(b"\n"):
                    bad(taken, "truncated_record", "the last record ends inside a quoted value without a line end: "
                                                   "the file looks cut off (末行被截断)")
                elif "end of data" in str(e):
                    bad(taken, "unterminated_quote", "a quoted value is not closed before the end of the file (引号未闭合)")
                else:
                    bad(taken, "malformed_record", f"not a well-formed CSV record: {e} (记录格式错误)")
                continue
            taken = lines.taken
            if not row and len(taken) == 1:  # a blank line is not a record
                continue
            if len(row) != n:
                if len(taken) > 1:
                    reader = csv.reader(lines, strict=True)
                    split(taken)
                elif len(row) < n and not taken[-1][2].endswith(b"\n"):
                    bad(taken, "truncated_record", f"the last record has {len(row)} of {n} fields and no line end: "
                                                   f"the file looks cut off (末行被截断)")
                else:
                    bad(taken, "field_count", f"the record has {len(row)} fields, the header has {n} (字段数与表头不符)")
                continue
            if lines.bad_bytes and any(b"\x00" in t[2] for t in taken):
                bad(taken, "bad_encoding", "the record holds NUL bytes (U+0000): binary content, not text (含空字节)")
                continue
            if lines.taken_bytes > limit:
                longest = max(range(n), key=lambda i: len(row[i]))
                if len(row[longest]) > limit:
                    c = source.columns[longest]
                    bad(taken, "field_too_long", f"{c.name} ({c.label}) has {len(row[longest]):,d} characters, "
                                                 f"more than max_field_chars {limit:,d} (字段超长)", c.name)
                    continue
            out.records += 1
            out.good += 1
            if lines.bad_bytes:
                undecodable(taken)
            if on_good is not None:
                on_good(taken[0][0], row)
        # the open file again, not the path: in the bucket each open downloads the whole object
        out.sha256 = file_sha256(fh)
        if out.bad and clean_dir is not None:
            out.clean_path = _clean_copy(fh, path, out, storage.as_path(clean_dir))
    return out


def _clean_copy(src, path: Path, s: FileScan, clean_dir: Path) -> Path:
    """The file (src: open on path, seekable) without its bad records' bytes (the header and
    blank lines stay)."""
    dest = clean_dir.joinpath(*path.parts[-3:])
    dest.parent.mkdir(parents=True, exist_ok=True)
    spans = sorted((b.offset, b.end) for b in s.bad)
    with storage.open_file(dest, "wb") as out:
        pos = 0
        for a, b in spans:
            _copy(src, out, pos, a - pos)
            pos = b
        _copy(src, out, pos, None)
    return dest


def _copy(src, out, start: int, length: int | None) -> None:
    src.seek(start)
    while length is None or length > 0:
        chunk = src.read(BLOCK if length is None else min(BLOCK, length))
        if not chunk:
            break
        out.write(chunk)
        if length is not None:
            length -= len(chunk)


def file_sha256(file) -> str:
    """The SHA-256 of a file's bytes: file is a path, or a seekable binary file object (read
    from its start)."""
    if not hasattr(file, "read"):
        with storage.open_file(storage.as_path(file), "rb") as f:
            return file_sha256(f)
    file.seek(0)
    h = hashlib.sha256()
    while chunk := file.read(BLOCK):
        h.update(chunk)
    return h.hexdigest()


def content_hash(scans: list[FileScan]) -> str:
    """One hash of a load's landing files (names and bytes): equal hashes, equal content."""
    h = hashlib.sha256()
    for s in sorted(scans, key=lambda s: s.path.name):
        h.update(f"{s.path.name}\t{s.sha256}\n".encode())
    return h.hexdigest()


def first_divergence(path: Path, source: Source, spark_first_fields: list[str | None]) -> int:
    """Byte offset of the first good record whose first field differs from what Spark read at
    that position (or the end of the file if Spark read more rows than the scan found)."""
    seen: list[tuple[int, str]] = []
    scan(path, source, on_good=lambda off, row: seen.append((off, row[0])))
    for i, (off, first) in enumerate(seen):
        if i >= len(spark_first_fields) or (spark_first_fields[i] or "") != first:
            return off
    return path.stat().st_size
