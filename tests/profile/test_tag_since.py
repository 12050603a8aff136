"""tag_since: a tag that was published keeps its published since date, found by integer codes."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from govlake.profile.tag_since import SinceIndex, with_published_since

D0, D1, AS_OF = dt.date(2024, 1, 5), dt.date(2025, 3, 1), dt.date(2025, 6, 30)


def _batch(rows, dictionary=False):
    uscc, tag, since = zip(*rows) if rows else ((), (), ())
    cols = [pa.array(uscc, pa.string()), pa.array(tag, pa.string()), pa.array(since, pa.date32())]
    if dictionary:
        cols[:2] = [c.dictionary_encode() for c in cols[:2]]
    return pa.RecordBatch.from_arrays(cols, names=["uscc", "tag_id", "since"])


@pytest.mark.parametrize("dictionary", [False, True])
def test_published_tags_keep_their_date_new_ones_start_today(dictionary):
    index = SinceIndex([_batch([("A", "t1", D0), ("A", "t2", D1)]), _batch([("B", "t2", D1), ("B", "t9", D0)])])
    assert len(index) == 4
    new = _batch([("A", "t1", AS_OF), ("A", "t3", AS_OF), ("B", "t2", AS_OF), ("C", "t1", AS_OF),
                  ("B", "t1", AS_OF), ("A", "t2", AS_OF)], dictionary)
    assert index.since(new).to_pylist() == [D0, AS_OF, D1, AS_OF, AS_OF, D1]


def test_no_published_tags_and_bad_input():
    assert SinceIndex([]).since(_batch([("A", "t1", AS_OF)])).to_pylist() == [AS_OF]
    with pytest.raises(ValueError, match="1970..2149"):
        SinceIndex([_batch([("A", "t1", dt.date(1960, 1, 1))])])
    nulls = pa.RecordBatch.from_arrays([pa.array(["A", None]), pa.array(["t1", "t1"]), pa.array([D0, D0], pa.date32())],
                                       names=["uscc", "tag_id", "since"])
    with pytest.raises(ValueError, match="must not be null"):
        SinceIndex([nulls])


def test_staged_files_are_read_and_given_their_dates(tmp_path):
    """Files as the profile's write pass leaves them: dictionary keys, no stored Arrow schema,
    more columns than the index reads, several row groups."""
    rows = pa.table({"uscc": pa.array(["A", "A", "C"]).dictionary_encode(), "tag_id": pa.array(["t1", "t3", "t1"]),
                     "tag_name": ["x", "y", "x"], "since": pa.array([AS_OF] * 3, pa.date32()), "evidence": ["e1", "e2", "e3"]})
    f = tmp_path / "part.parquet"
    pq.write_table(rows, f, store_schema=False, row_group_size=2)
    parts = list(with_published_since([f], SinceIndex([_batch([("A", "t1", D0), ("C", "t2", D1)])])))
    assert len(parts) == 1
    out = [pa.Table.from_batches(list(parts[0]))]
    assert out[0].column_names == rows.column_names
    assert out[0].column("since").to_pylist() == [D0, AS_OF, AS_OF]
    assert out[0].column("evidence").to_pylist() == ["e1", "e2", "e3"]
