"""A full build over a published tags table keeps `since` (the first date a tag was seen) of the
tags that still hold, by integer codes.

Why: at 900,000 enterprises both sides have ~146 M tag rows; Spark's join shuffled and sorted
both with their evidence strings and took 479 s of a 1,074 s rebuild (docs/profile.md). Here the
published (uscc, tag_id, since) rows become one sorted int64 array, each row packed as
(uscc code × 2^20 + tag code) × 2^16 + days since 1970 (8 bytes a row, ~1.2 GB at 146 M, sorted in
place); the new rows of each staged file find theirs by binary search, and the file is written
again with its since column.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TAG_SPACE = 1 << 20  # tag codes per enterprise code (733 tags in the catalog)
DAY_BITS = 16  # since: days from 1970-01-01, 1970 .. 2149
_DAYS = np.int64((1 << DAY_BITS) - 1)


class _Codes:
    """A dense integer code per distinct string, assigned in order of first sight."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    def of(self, arr: pa.Array, add: bool) -> np.ndarray:
        """Codes of arr's values (-1: unknown, when not add). Each distinct value is looked up once."""
        enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
        if enc.null_count:
            raise ValueError("tag keys (uscc, tag_id) must not be null")
        values = enc.dictionary.to_pylist()
        get = self.ids.setdefault if add else self.ids.get
        lookup = np.array([get(v, len(self.ids) if add else -1) for v in values], np.int64)
        return lookup[enc.indices.to_numpy(zero_copy_only=False)]


def _days(col: pa.Array) -> np.ndarray:
    return col.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)


class SinceIndex:
    """The published tags' since dates by (uscc, tag_id), from their record batches."""

    def __init__(self, batches):
        self.uscc, self.tag = _Codes(), _Codes()
        packed = []
        for b in batches:
            days = _days(b.column("since"))
            if days.size and (days.min() < 0 or days.max() > _DAYS):
                raise ValueError(f"since dates must lie in 1970..2149 to be packed; got {days.min()}..{days.max()} days")
            key = self.uscc.of(b.column("uscc"), True) * TAG_SPACE + self.tag.of(b.column("tag_id"), True)
            packed.append((key << DAY_BITS) | days)
        if len(self.tag.ids) > TAG_SPACE:
            raise ValueError(f"more than {TAG_SPACE} tag ids")
        self.packed = np.concatenate(packed) if packed else np.zeros(0, np.int64)
        self.packed.sort()  # in place: keys are unique (the gate), so the days never decide

    def __len__(self) -> int:
        return int(self.packed.size)

    def since(self, b: pa.RecordBatch) -> pa.Array:
        """b's since column with the published date wherever (uscc, tag_id) was published."""
        if not self.packed.size:
            return b.column("since")
        u, t = self.uscc.of(b.column("uscc"), False), self.tag.of(b.column("tag_id"), False)
        days = _days(b.column("since"))
        key = (u * TAG_SPACE + t) << DAY_BITS
        pos = np.minimum(np.searchsorted(self.packed, key), self.packed.size - 1)
        found = self.packed[pos]
        hit = (u >= 0) & (t >= 0) & ((found >> DAY_BITS) == (key >> DAY_BITS))
        return pa.array(np.where(hit, found & _DAYS, days).astype(np.int32)).cast(pa.date32())


def _file_with_published_since(f, index: SinceIndex):
    # Keys as dictionaries, as written: their codes are looked up once per distinct value. A
    # batch at a time: a file holds ~18 M tag rows with their evidence at 900,000 enterprises.
    for b in pq.ParquetFile(f, read_dictionary=["uscc", "tag_id"]).iter_batches(batch_size=1 << 20):
        yield b.set_column(b.schema.get_field_index("since"), "since", index.since(b))


def with_published_since(files, index: SinceIndex):
    """Each staged tag file's rows with the published since dates: per file, its record batches."""
    for f in files:
        yield _file_with_published_since(f, index)


__all__ = ["SinceIndex", "with_published_since", "TAG_SPACE"]
