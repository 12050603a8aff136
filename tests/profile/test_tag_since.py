"""tag_since: a tag that was published keeps its published since date, found by integer codes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from govlake.profile.tag_since import SinceIndex

D0, D1, AS_OF = dt.date(2024, 1, 5), dt.date(2025, 3, 1), dt.date(2025, 6, 30)


def _batch(rows, dictionary=False):
    uscc, tag, since = zip(*rows) if rows else ((), (), ())
    cols = [pa.array(uscc, pa.string()), pa.array(tag, pa.string()), pa.array(since, pa.date32())]
    if dictionary:
        cols[:2] = [c.dictionary_encode() for c in cols[:2]]
    return pa.RecordBatch.from_arrays(cols, names=["uscc", "tag_id", "since"])


@pytest.mark.parametrize("saved", [False, True])
@pytest.mark.parametrize("dictionary", [False, True])
def test_published_tags_keep_their_date_new_ones_start_today(dictionary, saved, tmp_path):
    index = SinceIndex.from_batches([_batch([("A", "t1", D0), ("A", "t2", D1)]), _batch([("B", "t2", D1), ("B", "t9", D0)])])
    if saved:  # as the write pass's workers see it: memory-mapped from the saved folder
        index = SinceIndex.load(index.save(tmp_path / "index"))
        assert isinstance(index.packed, np.memmap)
    assert len(index) == 4
    new = _batch([("A", "t1", AS_OF), ("A", "t3", AS_OF), ("B", "t2", AS_OF), ("C", "t1", AS_OF),
                  ("B", "t1", AS_OF), ("A", "t2", AS_OF)], dictionary)
    assert index.since(new).to_pylist() == [D0, AS_OF, D1, AS_OF, AS_OF, D1]


def test_no_published_tags_and_bad_input():
    assert SinceIndex.from_batches([]).since(_batch([("A", "t1", AS_OF)])).to_pylist() == [AS_OF]
    with pytest.raises(ValueError, match="1970..2149"):
        SinceIndex.from_batches([_batch([("A", "t1", dt.date(1960, 1, 1))])])
    nulls = pa.RecordBatch.from_arrays([pa.array(["A", None]), pa.array(["t1", "t1"]), pa.array([D0, D0], pa.date32())],
                                       names=["uscc", "tag_id", "since"])
    with pytest.raises(ValueError, match="must not be null"):
        SinceIndex.from_batches([nulls])


def test_tagger_gives_published_tags_their_date(tmp_path):
    """The write pass's tagger with a saved index: the tags that were published keep their date."""
    from govlake.catalog.enterprise import load_enterprise_fields
    from govlake.profile.tag_kernels import enterprise_program, tagger
    from govlake.settings import Settings

    catalog_dir = Settings().catalog_dir
    types = {f.id: f.type for f in load_enterprise_fields(catalog_dir).fields}
    rng = np.random.default_rng(3)
    value = {"double": lambda: pa.array(rng.uniform(0, 5_000, 50)), "int": lambda: pa.array(rng.integers(0, 50, 50), pa.int32()),
             "boolean": lambda: pa.array(rng.random(50) < 0.5), "string": lambda: pa.array(rng.choice(["", "A", "C"], 50)),
             "date": lambda: pa.array([D0 + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, 50)], pa.date32())}
    rows = {c: value[types[c]]() for c in enterprise_program(str(catalog_dir), AS_OF).columns}
    profile = pa.table({"uscc": [f"E{i:03d}" for i in range(50)], **rows}).to_batches()[0]
    fresh = tagger(catalog_dir, AS_OF)(profile)
    assert fresh.num_rows > 10 and set(fresh.column("since").to_pylist()) == {AS_OF}
    pairs = list(zip(fresh.column("uscc").to_pylist(), fresh.column("tag_id").to_pylist()))[::3]
    folder = SinceIndex.from_batches([_batch([(u, t, D0) for u, t in pairs])]).save(tmp_path / "index")
    got = tagger(catalog_dir, AS_OF, folder)(profile)
    assert got.column("uscc").to_pylist() == fresh.column("uscc").to_pylist()
    kept = set(pairs)
    assert [d == D0 for d in got.column("since").to_pylist()] == [
        (u, t) in kept for u, t in zip(got.column("uscc").to_pylist(), got.column("tag_id").to_pylist())]


def test_shipped_index_is_read_from_the_workers_copy(spark, tmp_path):
    """On a cluster the executors do not see the driver's folder: a full build ships the index
    (SparkContext.addFile) and each worker reads its own copy by the folder's name; here the
    workers are given a path that exists on no machine, with the folder's name."""
    import uuid

    folder = SinceIndex.from_batches([_batch([("A", "t1", D0), ("B", "t2", D1)])]).save(
        tmp_path / f"_since-{uuid.uuid4().hex[:12]}")
    spark.sparkContext.addFile(str(folder), recursive=True)
    name = f"/nonexistent/driver/{folder.name}"

    def run(batches):
        from govlake.profile import tag_since

        for b in batches:
            yield tag_since.load(name, True).apply(b)

    rows = spark.createDataFrame(_batch([("A", "t1", AS_OF), ("B", "t1", AS_OF), ("B", "t2", AS_OF)]).to_pandas())
    got = {(r.uscc, r.tag_id): r.since for r in rows.mapInArrow(run, rows.schema).collect()}
    assert got == {("A", "t1"): D0, ("B", "t1"): AS_OF, ("B", "t2"): D1}
