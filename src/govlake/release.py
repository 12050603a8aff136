"""Releases (发布版本): the tables one build publishes together become visible together.

A build commits its tables one after another (the profile, then its tags; the match keys, then
their outcomes), and a crash between two commits would leave one table new and the next one old.
So readers never take "the latest version of each table": they read the current release, a named
set of table versions recorded in the release log `ops.releases` (one row per release, appended by
delta-spark through the Lakehouse facade) only after every table of the set is committed. The
log's own latest version is the one thing read at "latest": one row appended in one Delta commit,
so a reader sees the whole release or none of it.

A release is cumulative: it carries the versions of every table ever released, the ones this step
published replacing the previous release's, so the latest row alone answers any reader.

Fallback (documented in docs/adr/0002-releases.md): a table in no release (a fresh lake before its
first release, or a table no step releases, such as bronze) is read at its latest version.
`version_of` is the one call readers make.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import click

RELEASES = "ops.releases"

_SCHEMA = ("release_id string COMMENT '发布版本编号', seq bigint COMMENT '发布序号', "
           "run_id string COMMENT '发布该版本的运行（OpenLineage run id）', step string COMMENT '发布步骤', "
           "created_at timestamp COMMENT '发布时间', tables map<string,bigint> COMMENT '各表版本（表名 -> Delta 版本）', "
           "published array<string> COMMENT '本次发布更新的表', previous_release string COMMENT '上一发布版本'")


@dataclass(frozen=True)
class Release:
    release_id: str
    seq: int
    run_id: str
    step: str
    created_at: dt.datetime | None
    tables: dict[str, int] = field(default_factory=dict)
    published: tuple[str, ...] = ()
    previous_release: str | None = None


def _release_id(seq: int) -> str:
    return f"R{seq:06d}"


# (log path, log version) -> Release: a version of the log never changes, so one read per version.
_CACHE: dict[tuple[str, int], Release | None] = {}


def current(lake) -> Release | None:
    """The latest release, or None before the first one."""
    if not lake.exists(RELEASES):
        return None
    v = lake.version(RELEASES)
    key = (str(lake.path(RELEASES)), v)
    if key not in _CACHE:
        rows = lake.to_arrow(RELEASES, version=v).to_pylist()
        r = max(rows, key=lambda x: x["seq"], default=None)
        if len(_CACHE) >= 16:
            _CACHE.clear()
        _CACHE[key] = None if r is None else Release(
            r["release_id"], r["seq"], r["run_id"], r["step"], r["created_at"],
            dict(r["tables"] or []), tuple(r["published"] or ()), r["previous_release"])
    return _CACHE[key]


def version_of(lake, table: str, release: Release | None = None) -> int | None:
    """The version of `table` readers serve: the current release's (or `release`'s); for a table
    in no release, its latest committed version (None if the table does not exist)."""
    r = current(lake) if release is None else release
    if r is not None and table in r.tables:
        return r.tables[table]
    return lake.version(table) if lake.exists(table) else None


def publish(lake, run_id: str, tables, *, step: str) -> Release:
    """Record a release of `tables` (a list of names: their latest versions; or {name: version})
    made by run `run_id` in `step`, after every one of them is committed. Publishing the versions
    the current release already holds records nothing (a re-run for the same day) and returns it.
    Runs under the lake's run lock (the pipeline's steps do): one publisher at a time."""
    versions = tables if isinstance(tables, dict) else {t: lake.version(t) for t in tables}
    for t, v in versions.items():
        if not lake.exists(t):
            raise ValueError(f"cannot release {t}: no such table (发布版本失败：表不存在)")
        latest = lake.version(t)
        if not 0 <= int(v) <= latest:
            raise ValueError(f"cannot release {t} at version {v}: latest is {latest} (发布版本失败：版本不存在)")
    prev = current(lake)
    merged = {**(prev.tables if prev else {}), **{t: int(v) for t, v in versions.items()}}
    if prev is not None and merged == prev.tables:
        return prev
    seq = (prev.seq if prev else 0) + 1
    rel = Release(_release_id(seq), seq, run_id, step, dt.datetime.now(dt.timezone.utc).replace(microsecond=0), merged,
                  tuple(sorted(versions)), prev.release_id if prev else None)
    df = lake.spark.createDataFrame([(rel.release_id, rel.seq, rel.run_id, rel.step, rel.created_at, rel.tables,
                                      list(rel.published), rel.previous_release)], _SCHEMA)
    # The release id as Delta's transaction id: a retried write of the same release commits once.
    lake.write(df, RELEASES, mode="append", app_id=f"release@{rel.release_id}",
               metadata={"release_id": rel.release_id, "run_id": run_id, "step": step})
    return current(lake)


# Commits that rewrite files or properties without changing any row: a release may move past them.
SAME_DATA = ("OPTIMIZE", "SET TBLPROPERTIES", "VACUUM START", "VACUUM END")


def carry_forward(lake, run_id: str, *, step: str = "maintain") -> Release | None:
    """After upkeep: move the current release to the latest version of each of its tables whose
    commits since the released version changed no row (OPTIMIZE, properties, VACUUM). Readers then
    serve the compacted files, and VACUUM's retention counts from the newest released version, so
    an old release never points at files VACUUM removed. Publishes nothing when nothing moved."""
    cur = current(lake)
    if cur is None:
        return None
    moved = {}
    for table, released in cur.tables.items():
        if not lake.exists(table):
            continue
        since = [h for h in lake.history(table) if int(h.get("version", -1)) > released]
        if since and all(h.get("operation") in SAME_DATA for h in since):
            moved[table] = max(int(h["version"]) for h in since)
    return publish(lake, run_id, moved, step=step) if moved else cur


def history(lake) -> list[Release]:
    """Every release, newest first (audit: which run made which table versions visible)."""
    if not lake.exists(RELEASES):
        return []
    rows = sorted(lake.to_arrow(RELEASES).to_pylist(), key=lambda x: -x["seq"])
    return [Release(r["release_id"], r["seq"], r["run_id"], r["step"], r["created_at"], dict(r["tables"] or []),
                    tuple(r["published"] or ()), r["previous_release"]) for r in rows]


@click.command("releases")
@click.option("--limit", type=int, default=20, show_default=True, help="newest first")
def releases_command(limit):
    """List releases (发布版本): which run made which table versions visible, newest first."""
    from govlake.lakehouse import Lakehouse
    from govlake.settings import get_settings

    rows = history(Lakehouse(None, get_settings()))
    if not rows:
        click.echo("no release yet (尚无发布版本): readers serve each table's latest version")
        return
    for r in rows[:limit]:
        when = r.created_at.isoformat(sep=" ") if r.created_at else "?"
        click.echo(f"{r.release_id}  {when}  step {r.step:<8s} run {r.run_id}  previous {r.previous_release or '-'}")
        for t in r.published:
            click.echo(f"    {t} @ v{r.tables[t]}")
