"""A full build over a published tags table keeps `since` (the first date a tag was seen) of the
tags that still hold, by integer codes.

Why: at 900,000 enterprises both sides have ~146 M tag rows; Spark's join shuffled and sorted
both with their evidence strings and took 479 s of a 1,074 s rebuild (docs/profile.md). Here the
published (uscc, tag_id, since) rows become one sorted int64 array, each row packed as
(uscc code × 2^20 + tag code) × 2^16 + days since 1970 (8 bytes a row, ~1.2 GB at 146 M, sorted in
place); a code is the key's position in the index's `usccs` / `tag_ids` arrays. New tag rows find
theirs by binary search among their enterprises' rows. A build saves the index to a folder and
whoever computes the tags looks the dates up as it goes (memory-mapped: a full build's Python
workers share its pages; an incremental's index holds only its enterprises' rows), so the new tag
rows are written once.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TAG_SPACE = 1 << 20  # tag codes per enterprise code (733 tags in the catalog)
DAY_BITS = 16  # since: days from 1970-01-01, 1970 .. 2149
_DAYS = np.int64((1 << DAY_BITS) - 1)


def _encoded(arr: pa.Array) -> pa.DictionaryArray:
    enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
    if enc.null_count:
        raise ValueError("tag keys (uscc, tag_id) must not be null")
    return enc


def _codes(arr: pa.Array, ids: dict[str, int], add: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Codes of arr's keys and those of its distinct keys, each distinct key looked up once in ids
    (a dict, not `pc.index_in`, which hashed all 900,000 keys again per batch: 0.25 s). add: a key
    not in ids gets the next code (building); otherwise it gets -1."""
    enc = _encoded(arr)
    get = (lambda v: ids.setdefault(v, len(ids))) if add else (lambda v: ids.get(v, -1))
    lookup = np.array([get(v) for v in enc.dictionary.to_pylist()], np.int64)
    return lookup[enc.indices.to_numpy(zero_copy_only=False)], lookup


def _days(col: pa.Array) -> np.ndarray:
    return col.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)


class SinceIndex:
    """The published tags' since dates by (uscc, tag_id). packed is sorted, so each enterprise's
    rows are one slice of it: offsets[u] .. offsets[u + 1]."""

    FILES = ("usccs.arrow", "tag_ids.arrow", "packed.npy", "offsets.npy")

    def __init__(self, usccs: pa.Array, tag_ids: pa.Array, packed: np.ndarray, offsets: np.ndarray | None = None,
                 ids: list[dict[str, int]] | None = None):
        self.usccs, self.tag_ids, self.packed = usccs, tag_ids, packed
        self._id_maps = ids  # key -> code of usccs and tag_ids; built on first lookup if not given
        if offsets is None:
            starts = np.arange(len(usccs) + 1, dtype=np.int64) * (TAG_SPACE << DAY_BITS)
            offsets = np.searchsorted(packed, starts)
        self.offsets = offsets

    @classmethod
    def from_batches(cls, batches) -> SinceIndex:
        """From record batches of published tag rows (uscc, tag_id, since; keys plain or dictionary)."""
        uscc: dict[str, int] = {}  # key -> code, in order of first sight
        tag: dict[str, int] = {}
        packed = []
        for b in batches:
            days = _days(b.column("since"))
            if days.size and (days.min() < 0 or days.max() > _DAYS):
                raise ValueError(f"since dates must lie in 1970..2149 to be packed; got {days.min()}..{days.max()} days")
            (u, _), (t, _) = _codes(b.column("uscc"), uscc, add=True), _codes(b.column("tag_id"), tag, add=True)
            key = u * TAG_SPACE + t
            packed.append((key << DAY_BITS) | days)
        if len(tag) > TAG_SPACE:
            raise ValueError(f"more than {TAG_SPACE} tag ids")
        flat = np.concatenate(packed) if packed else np.zeros(0, np.int64)
        del packed
        flat.sort()  # in place: keys are unique (the gate), so the days never decide
        # a dict keeps insertion order: a key's position in the array is its code
        return cls(pa.array(list(uscc), pa.string()), pa.array(list(tag), pa.string()), flat, ids=[uscc, tag])

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, values in zip(self.FILES[:2], (self.usccs, self.tag_ids)):
            with pa.OSFile(str(folder / name), "wb") as f, pa.ipc.new_file(f, pa.schema([("key", pa.string())])) as w:
                w.write_batch(pa.record_batch([values], names=["key"]))
        np.save(folder / self.FILES[2], self.packed)
        np.save(folder / self.FILES[3], self.offsets)
        return folder

    @classmethod
    def load(cls, folder: Path) -> SinceIndex:
        """A saved index, memory-mapped: the processes that load it share its pages."""
        keys = [pa.ipc.open_file(pa.memory_map(str(folder / name))).get_batch(0).column(0) for name in cls.FILES[:2]]
        return cls(*keys, *(np.load(folder / name, mmap_mode="r") for name in cls.FILES[2:]))

    def __len__(self) -> int:
        return int(self.packed.size)

    def since(self, b: pa.RecordBatch) -> pa.Array:
        """b's since column with the published date wherever (uscc, tag_id) was published."""
        if not self.packed.size:
            return b.column("since")
        (u, distinct), (t, _) = _codes(b.column("uscc"), self._ids(0)), _codes(b.column("tag_id"), self._ids(1))
        days = _days(b.column("since"))
        key = (u * TAG_SPACE + t) << DAY_BITS
        # Searched among the batch's enterprises' slices only (copied out in order, so still
        # sorted: ~13 MB for 10,000 enterprises), in key order: a search over all 146 M rows, or
        # in row order, missed the CPU caches at every step.
        sub = self._rows_of(np.unique(distinct[distinct >= 0]))
        if not sub.size:
            return b.column("since")
        order = np.argsort(key)
        pos = np.empty_like(order)
        pos[order] = np.searchsorted(sub, key[order])
        found = sub[np.minimum(pos, sub.size - 1)]
        hit = (u >= 0) & (t >= 0) & ((found >> DAY_BITS) == (key >> DAY_BITS))
        return pa.array(np.where(hit, found & _DAYS, days).astype(np.int32)).cast(pa.date32())

    def _ids(self, which: int) -> dict[str, int]:
        """key -> code of the usccs (0) or tag_ids (1), built once per index (~1 s for 900,000)."""
        if self._id_maps is None:
            self._id_maps = [{k: i for i, k in enumerate(v.to_pylist())} for v in (self.usccs, self.tag_ids)]
        return self._id_maps[which]

    def _rows_of(self, us: np.ndarray) -> np.ndarray:
        """The packed rows of the enterprises `us` (sorted codes), in order."""
        lo, hi = self.offsets[us], self.offsets[us + 1]
        lengths = hi - lo
        starts = np.cumsum(lengths) - lengths
        return self.packed[np.repeat(lo - starts, lengths) + np.arange(int(lengths.sum()))]

    def apply(self, b: pa.RecordBatch) -> pa.RecordBatch:
        """b with its since column looked up."""
        i = b.schema.get_field_index("since")
        return b.set_column(i, b.schema.field(i), self.since(b)) if b.num_rows else b


@functools.lru_cache(maxsize=1)
def load(folder: str, shipped: bool = False) -> SinceIndex:
    """A saved index, loaded once per (worker) process; the next build's index replaces it (the
    mapping of a deleted folder's file would keep its disk space). shipped: the driver gave the
    folder to `SparkContext.addFile`; this worker's copy is found by the folder's name."""
    if shipped:
        from pyspark import SparkFiles

        folder = SparkFiles.get(Path(folder).name)
    return SinceIndex.load(Path(folder))


__all__ = ["SinceIndex", "load", "TAG_SPACE"]
