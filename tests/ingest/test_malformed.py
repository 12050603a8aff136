"""Malformed landing files as an operator receives them, through the path a user runs (`govlake
ingest` and the function it calls, on real Spark): every record is either written or
quarantined with its raw text and reason, or the load fails clearly and commits nothing."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from click.testing import CliRunner

from govlake.catalog import load_sources
from govlake.generate.uscc import uscc_check_char
from govlake.ingest import LoadRejected, ingest_source
from govlake.ingest import cli as ingest_cli
from govlake.ingest import records
from govlake.lakehouse import Lakehouse
from govlake.settings import Settings

D = dt.date(2026, 11, 21)
N = 30
PATTERN_VALUES = {"^[A-T][0-9]{4}$": "C3911", "^[0-9]{9}$": "440306001", "^[0-9]{12}$": "440306001001"}


def uscc(i: int) -> str:
    body = f"9144030{i:010d}"
    return body + uscc_check_char(body)


def value(col, i: int) -> str:
    """A value of the column that passes every rule of the catalog (row i: unique keys)."""
    if col.check == "uscc":
        return uscc(i)
    if col.enum:
        return col.enum[i % len(col.enum)]
    if col.pattern:
        return PATTERN_VALUES[col.pattern]
    day = 20 if col.after else 1 + i % 9
    return {"date": f"2026-01-{day:02d}", "timestamp": f"2026-01-{day:02d} 08:00:00", "boolean": "true",
            "int": str(int(col.min if col.min is not None else 1)),
            "double": str(float(col.min if col.min is not None and col.min > 0 else 12.5)),
            }.get(col.type, f"{col.label}{i}")


def csv_field(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v


def rows(src, n=N, **override) -> list[list[str]]:
    return [[override.get(c.name, {}).get(i, value(c, i)) if isinstance(override.get(c.name), dict) else value(c, i)
             for c in src.columns] for i in range(n)]


def text(src, body: list, *, eol="\n", last_eol=True) -> str:
    lines = [r if isinstance(r, str) else ",".join(csv_field(v) for v in r) for r in body]
    return ",".join(src.column_names) + eol + eol.join(lines) + (eol if last_eol else "")


@pytest.fixture
def env(spark, tmp_path):
    s = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4)
    return s, Lakehouse(spark, s), load_sources(s.catalog_dir)


def land(s: Settings, source: str, data: bytes | str, name="part-00000.csv"):
    folder = s.landing_dir / source / D.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return folder / name


def quarantine(lake, source):
    if not lake.exists("bronze.quarantine"):
        return []
    t = lake.to_arrow("bronze.quarantine", where={"source": source}).to_pylist()
    return sorted(t, key=lambda r: r["detail"])


def accounted(lake, rec, physical):
    """physical records (counted here, independently) == written + quarantined, in the lake."""
    written = lake.row_count(f"bronze.{rec.source}", partition={"_load_date": D.isoformat()})
    q = lake.row_count("bronze.quarantine", partition={"load_date": D.isoformat(), "source": rec.source})
    assert (rec.rows_read, rec.rows_written, rec.rows_quarantined) == (physical, written, q)
    assert physical == written + q


def nothing_committed(lake, source):
    assert not lake.exists(f"bronze.{source}") or lake.row_count(f"bronze.{source}") == 0
    assert quarantine(lake, source) == []
    runs = lake.to_arrow("ops.ingest_runs").to_pylist()
    assert runs[-1]["status"] == "rejected" and not runs[-1]["committed"] and runs[-1]["reason"]
    return runs[-1]


# -- one malformed record: quarantined with its raw text, the rest loaded -------------------------

def _record_cases(src) -> list[tuple[int, str, str]]:
    """(position, malformed line, rule) of each case, built from good rows of the catalog."""
    good = rows(src)
    line = lambda i: ",".join(csv_field(v) for v in good[i])  # noqa: E731
    return [
        (4, line(4).replace(f",{good[4][3]},", f',"{good[4][3]},', 1), "unterminated_quote"),  # record 5 of 30
        (8, line(8) + ",多余", "field_count"),                       # an extra column
        (12, ",".join(good[12][:-1]), "field_count"),               # one column missing
        (16, ",".join(good[16][:-2]), "field_count"),               # two missing
        (20, '"' + good[20][0] + '"x,' + ",".join(good[20][1:]), "malformed_record"),  # text after a quote
        (N - 1, line(N - 1)[:25], "truncated_record"),              # the last line cut off
    ]


def test_malformed_records_are_quarantined_through_the_cli(env, monkeypatch):
    """One file with each kind of malformed record (the unclosed quote is record 5 of 30)."""
    s, lake, cat = env
    src = cat["financing"]
    cases = _record_cases(src)
    good = rows(src)
    out = list(good)
    for at, line, _ in cases:
        out[at] = line
    land(s, "financing", text(src, out, last_eol=False))
    monkeypatch.setattr(ingest_cli, "get_settings", lambda: s)
    res = CliRunner().invoke(ingest_cli.ingest, ["--load-date", D.isoformat(), "--source", "financing"])
    assert res.exit_code == 0, res.output
    n_bad = len(cases)
    assert f"records        30  written        {N - n_bad}  quarantined      {n_bad}" in res.output
    q = quarantine(lake, "financing")
    assert sorted((r["rule"], r["raw"].rstrip("\n")) for r in q) == sorted((rule, line) for _, line, rule in cases)
    assert all("byte offset" in r["detail"] and r["_source_file"] == f"financing/{D}/part-00000.csv" for r in q)
    rec = lake.to_arrow("ops.ingest_runs").to_pylist()[-1]
    assert (rec["rows_read"], rec["rows_written"], rec["rows_quarantined"]) == (N, N - n_bad, n_bad)
    assert rec["reconciled"] and rec["status"] == "loaded"
    # the unclosed quote swallowed nothing: every other event is in bronze, whole
    bronze = lake.to_arrow("bronze.financing").to_pylist()
    bad_ids = {good[at][0] for at, *_ in cases}
    assert {r["event_id"] for r in bronze} == {g[0] for g in good} - bad_ids
    assert all("\n" not in (r["investor_type"] or "") for r in bronze)


# -- CSV dialect edge cases: loaded whole ----------------------------------------------------------

def test_dialect_edge_cases_load_whole(env, spark):
    s, lake, cat = env
    src = cat["petitions"]
    content = {1: '第一行\n第二行，"引号"里的话', 2: "他说：\"\"你好\"\"", 3: "=SUM(A1)"}
    body = rows(src, content=content)
    # CRLF line ends, a UTF-8 BOM, quoted newlines and doubled quotes, blank line at the end
    data = "\ufeff" + text(src, body, eol="\r\n") + "\r\n"
    land(s, "petitions", data)
    rec = ingest_source(spark, lake, "petitions", D)
    assert rec.rows_quarantined == 0, quarantine(lake, "petitions")
    accounted(lake, rec, N)
    got = {r["ticket_id"]: r for r in lake.to_arrow("bronze.petitions").to_pylist()}
    assert got[body[1][0]]["content"].replace("\r\n", "\n") == content[1]
    assert got[body[2][0]]["content"] == content[2]
    assert got[body[3][0]]["content"] == "=SUM(A1)"  # neutralised on export, not in the lake
    assert all(not r["status"].endswith("\r") for r in got.values())


def test_field_level_cases(env, spark):
    """A 10 MB field and a NUL byte are quarantined; a uscc with spaces, full-width characters or
    lower case passes and is stored as checked."""
    s, lake, cat = env
    src = cat["financing"]
    body = rows(src)
    big = "长" * ((10 << 20) // 3) + "x" * ((10 << 20) % 3)
    body[3][5] = big  # investor_type: a 10 MB value
    body[6][4] = "12\x005"
    fw = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "".join(chr(0xFF10 + i) for i in range(10))
                       + "".join(chr(0xFF21 + i) for i in range(26)))
    body[0][1] = f"  {body[0][1]} "
    body[1][1] = body[1][1].translate(fw)
    body[2][1] = "\u3000" + body[2][1].lower()
    land(s, "financing", text(src, body))
    rec = ingest_source(spark, lake, "financing", D)
    q = {r["rule"]: r for r in quarantine(lake, "financing")}
    assert set(q) == {"field_too_long", "bad_encoding"}
    assert q["field_too_long"]["column"] == "investor_type"
    assert big in q["field_too_long"]["raw"] and len(q["field_too_long"]["raw"].encode()) > 10 << 20
    assert q["bad_encoding"]["raw"].rstrip("\n") == ",".join(body[6]) and "NUL" in q["bad_encoding"]["detail"]
    accounted(lake, rec, N)
    stored = {r["event_id"]: r["uscc"] for r in lake.to_arrow("bronze.financing").to_pylist()}
    assert [stored[body[i][0]] for i in range(3)] == [uscc(0), uscc(1), uscc(2)]


# -- whole-file failures: nothing committed, the attempt recorded --------------------------------

def test_whole_gbk_file_is_rejected(env, spark):
    s, lake, cat = env
    src = cat["financing"]
    path = land(s, "financing", text(src, rows(src)).encode("gbk"))
    with pytest.raises(LoadRejected, match=r"financing \(融资事件\).*not valid utf-8.*GB18030") as e:
        ingest_source(spark, lake, "financing", D)
    assert str(path) in str(e.value)
    assert "nothing committed" in nothing_committed(lake, "financing")["reason"] + str(e.value)


def test_gbk_file_is_rejected_by_the_cli_with_a_non_zero_exit(env, monkeypatch):
    s, lake, cat = env
    src = cat["financing"]
    land(s, "financing", text(src, rows(src)).encode("gbk"))
    monkeypatch.setattr(ingest_cli, "get_settings", lambda: s)
    res = CliRunner().invoke(ingest_cli.ingest, ["--load-date", D.isoformat(), "--source", "financing"])
    assert res.exit_code != 0
    assert "融资事件" in res.output and "part-00000.csv" in res.output and "not valid utf-8" in res.output
    nothing_committed(lake, "financing")


def test_binary_after_a_valid_header_is_rejected(env, spark):
    s, lake, cat = env
    src = cat["financing"]
    junk = random.Random(25).randbytes(16 << 10)
    land(s, "financing", (text(src, rows(src, 3))).encode() + junk)
    with pytest.raises(LoadRejected, match="NUL bytes"):
        ingest_source(spark, lake, "financing", D)
    nothing_committed(lake, "financing")


def test_too_large_a_quarantined_share_is_rejected(env, spark):
    s, lake, cat = env
    src = cat["financing"]
    body = rows(src)
    for r in body[:12]:  # 12 of 30 (40 %) fail the enum of round
        r[3] = "E轮"
    land(s, "financing", text(src, body))
    with pytest.raises(LoadRejected, match=r"12 of 30 records \(40%\).*max_quarantine_share 20%"):
        ingest_source(spark, lake, "financing", D)
    run = nothing_committed(lake, "financing")
    assert json.loads(run["quarantined_by_rule"]) == {"enum": 12} and run["rows_read"] == N


# -- corrections and restatements -----------------------------------------------------------------

def test_correction_is_restated_and_identical_relanding_commits_nothing(env, spark):
    s, lake, cat = env
    src = cat["financing"]
    body = rows(src)
    land(s, "financing", text(src, body))
    first = ingest_source(spark, lake, "financing", D)
    assert first.status == "loaded" and first.committed
    v1 = lake.version("bronze.financing")

    again = ingest_source(spark, lake, "financing", D)  # identical re-landing
    assert again.status == "unchanged" and not again.committed and lake.version("bronze.financing") == v1

    body[5][4] = "99.5"               # corrected amount
    body[6][3] = "F轮"                 # a row that now fails a rule
    extra = rows(src, N + 1)[N]       # one more event
    land(s, "financing", text(src, body[:-1] + [extra]))  # and the last one withdrawn
    rec = ingest_source(spark, lake, "financing", D)
    assert rec.status == "restated" and rec.committed and rec.previous_hash == first.content_hash
    assert rec.content_hash != first.content_hash
    assert lake.version("bronze.financing") > v1
    accounted(lake, rec, N)
    got = {r["event_id"]: r["amount_wan"] for r in lake.to_arrow("bronze.financing").to_pylist()}
    assert got[body[5][0]] == 99.5 and body[6][0] not in got and body[-1][0] not in got and extra[0] in got
    assert [r["rule"] for r in quarantine(lake, "financing")] == ["enum"]
    r = lake.to_arrow("ops.restatements").to_pylist()
    assert len(r) == 1
    r = r[0]
    assert (r["old_hash"], r["new_hash"]) == (first.content_hash, rec.content_hash)
    assert (r["rows_added"], r["rows_removed"], r["rows_changed"]) == (1, 2, 1)
    assert r["changed_keys"] == [body[5][0]] and r["added_keys"] == [extra[0]]
    assert sorted(r["removed_keys"]) == sorted([body[6][0], body[-1][0]])
    assert (r["quarantined_before"], r["quarantined_after"], r["rows_before"], r["rows_after"]) == (0, 1, N, N - 1)
    meta = [h for h in lake.history("bronze.financing") if h.get("content_hash") == rec.content_hash]
    assert meta and meta[0]["previous_hash"] == first.content_hash

    same = ingest_source(spark, lake, "financing", D)  # the corrected extract again: a no-op
    assert same.status == "unchanged" and not same.committed
    assert lake.to_arrow("ops.restatements").num_rows == 1
    runs = lake.to_arrow("ops.ingest_runs").to_pylist()
    assert [x["status"] for x in sorted(runs, key=lambda x: x["recorded_at"])] == \
        ["loaded", "unchanged", "restated", "unchanged"]


def test_restatement_to_a_clean_extract_clears_the_old_quarantine(env, spark):
    s, lake, cat = env
    src = cat["financing"]
    body = rows(src)
    land(s, "financing", text(src, body[:3] + [",".join(body[3][:2])] + body[4:]))
    assert ingest_source(spark, lake, "financing", D).rows_quarantined == 1
    land(s, "financing", text(src, body))
    rec = ingest_source(spark, lake, "financing", D)
    assert rec.status == "restated" and rec.rows_quarantined == 0
    accounted(lake, rec, N)


# -- the scanner on its own ------------------------------------------------------------------------

def test_first_divergence_names_the_offset(tmp_path):
    src = load_sources(Settings().catalog_dir)["financing"]
    body = rows(src, 5)
    p = tmp_path / "financing" / D.isoformat() / "part-00000.csv"
    p.parent.mkdir(parents=True)
    p.write_text(text(src, body), encoding="utf-8")
    second = len(text(src, body[:1]).encode())
    assert records.first_divergence(p, src, [body[0][0], "other", body[2][0]]) == second
    assert records.first_divergence(p, src, [r[0] for r in body]) == p.stat().st_size
