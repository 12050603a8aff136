"""The profile's SQL as dbt compiles the committed models: what runs wherever dbt does not.

The generated dbt models are the only text of the profile SQL (dbt/models, `govlake profile
generate`). A build with the dbt engine runs them through dbt on Spark. Everything else runs
what `dbt compile` (dbtRunner, in a child process) makes of them, the manifest's `compiled_code`
of each model:
  duckdb   (the `duckdb` output of dbt/profiles.yml) the workers' projection of a full build, the
           incremental's scope and projection, the benchmark's reference: one query, the model's
           ancestors as CTEs (`query`). Staging models and bronze sources are not compiled into
           it: they are the tables `stg_<source>` and `bronze__<source>` of the connection.
           The dates are DuckDB variables (`getvariable('as_of')`, `y1`, `changed_since`; the
           macros of dbt/macros/profile_dialect.sql), set by `set_dates`, so one compile serves
           every date.
  session  (the embedded Spark target) the direct engine, a build without dbt's materialization
           (tests, the benchmark): every model a temp view of its own name (`spark_models`). The
           dates are literals there, from the dbt vars: one compile per date.
A compile parses the whole project (several CPU-seconds; a change of dbt vars forces a full
parse). Compiled models are cached by the content of the dbt project (models, macros, project
and profiles files), the target, the vars and the dbt versions, under ~/.cache/govlake/dbt-compiled:
a build compiles only after the models changed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

PROFILE, SCOPE = "enterprise_profile", "int_enterprise_scope"
DUCKDB, SPARK = "duckdb", "session"  # outputs of dbt/profiles.yml
# the models each target's compile selects (with their ancestors: +)
SELECT = {DUCKDB: (f"+{PROFILE}", SCOPE),
          SPARK: (f"+{PROFILE}", "+int_enterprise_rows", "+policy_profile", "+policy_tags", "enterprise_tags")}
# how each adapter names a relation (dbt-duckdb: of its in-memory database; dbt-spark: a view)
_RELATION = {DUCKDB: re.compile(r'"memory"\.[."a-z_0-9]+'), SPARK: re.compile(r"\bglobal_temp\.[a-z_0-9]+")}
CACHE_DIR = Path(os.environ.get("GOVLAKE_DBT_COMPILE_CACHE", Path.home() / ".cache" / "govlake" / "dbt-compiled"))
# An incremental's scope: the scope model with the dbt var changed_since set (its date is the
# DuckDB variable on that target: only whether the var is set matters).
CHANGED = {"changed_since": True}
_SKIP_DIRS = {"target", "logs", "dbt_packages"}
CACHE_FORMAT = 3  # of the cached files: one more when what _compile keeps changes
_COMMENT_LINE = re.compile(r"^\s*--.*$", re.M)


class CompileFailed(RuntimeError):
    """dbt could not compile the profile's models (画像模型编译失败)."""


def set_dates(con, as_of: dt.date, changed_since: dt.date | None = None) -> None:
    """Set the dates the compiled SQL reads on a DuckDB connection."""
    con.execute(f"SET VARIABLE as_of = DATE '{as_of.isoformat()}'")
    con.execute(f"SET VARIABLE y1 = CAST({as_of.year - 1} AS INTEGER)")
    if changed_since is not None:
        con.execute(f"SET VARIABLE changed_since = DATE '{changed_since.isoformat()}'")


def profile_sql(dbt_dir: Path | None = None) -> str:
    """enterprise_profile over the tables stg_<source> (the workers', the incremental's, the
    benchmark's): the scope, the 12 per-source aggregates and int_enterprise_base as CTEs."""
    return query(PROFILE, dbt_dir=dbt_dir)


def scope_sql(dbt_dir: Path | None = None) -> str:
    """An incremental's int_enterprise_scope (the var changed_since set) over stg_enterprise_registry
    and the tables bronze__<source>."""
    return query(SCOPE, vars_=CHANGED, dbt_dir=dbt_dir)


def staging_sql(source: str, *, changed: bool = False, dbt_dir: Path | None = None) -> str:
    """stg_<source> over the table bronze__<source>: every enterprise's latest rows, or (changed:
    an incremental's) those of the enterprises in the table changed_scope (the macro
    latest_per_key on DuckDB)."""
    return query(f"stg_{source}", vars_=CHANGED if changed else None, dbt_dir=dbt_dir)


def query(root: str, *, vars_: dict | None = None, dbt_dir: Path | None = None) -> str:
    """One DuckDB query of the model `root`: the models it reads as CTEs (dependencies first),
    staging models and bronze sources as the tables stg_<source> and bronze__<source>."""
    models = _ordered(compiled_models(dbt_dir, target=DUCKDB, vars_=vars_), root, DUCKDB,
                      tables=("stg_", "bronze__"))
    *ctes, (_, body) = models
    if not ctes:
        return body + "\n"
    return "WITH " + ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in ctes) + "\n" + body + "\n"


def spark_models(roots: list[str], as_of: dt.date, dbt_dir: Path | None = None) -> list[tuple[str, str]]:
    """(model, Spark SQL) of the models `roots` and their ancestors, dependencies first, as dbt
    compiles them for Spark on `as_of` (the vars as_of and load_date): each reads the others by
    their names and the bronze sources as bronze__<source>, views its runner registers."""
    day = as_of.isoformat()
    nodes = compiled_models(dbt_dir, target=SPARK, vars_={"as_of": day, "load_date": day})
    out: dict[str, str] = {}
    for root in roots:
        for name, sql in _ordered(nodes, root, SPARK, tables=("bronze__",)):
            out.setdefault(name, sql)
    return list(out.items())


def _ordered(nodes: dict[str, dict], root: str, target: str, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(model, SQL) of `root` and the models it reads, dependencies first (in the order each
    model names them), every relation replaced by its model's name; models whose names start
    with one of `tables` are tables of whoever runs the SQL, not compiled in."""
    relations = {n["relation"]: name for name, n in nodes.items()}
    out: dict[str, str] = {}

    def visit(name: str, seen: tuple[str, ...]) -> None:
        node = nodes.get(name)
        if node is None or node["sql"] is None:
            raise CompileFailed(f"model {name} was not compiled for {target} (画像模型未编译): compiled "
                                f"{sorted(n for n, v in nodes.items() if v['sql'] is not None)}")
        # the comments name models that are no input (enterprise_profile's `-- depends_on:` refs)
        sql = _COMMENT_LINE.sub("", node["sql"])
        reads = {r: relations.get(r) or node["sources"].get(r) or r for r in node["reads"] if r in sql}
        for dep in reads.values():
            if dep.startswith(tables) or dep in out:
                continue
            if dep in seen:
                raise CompileFailed(f"models read each other: {' -> '.join((*seen, dep))}")
            visit(dep, (*seen, dep))
        for rel in sorted(reads, key=len, reverse=True):  # global_temp.stg_x before global_temp.stg_
            sql = sql.replace(rel, reads[rel])
        unknown = _RELATION[target].findall(sql)
        if unknown:
            raise CompileFailed(f"model {name} reads a relation that is no model, staging table or bronze "
                                f"source (画像模型读取了未知的表): {unknown[:3]}")
        out[name] = sql.strip()

    visit(root, (root,))
    return list(out.items())


def compiled_models(dbt_dir: Path | None = None, *, target: str = DUCKDB, vars_: dict | None = None) -> dict[str, dict]:
    """model name -> {sql: compiled_code (None if not selected), relation, reads: relation names
    of its dependencies, sources: relation -> bronze__<source>}, for the profile's models compiled
    for `target` with the dbt vars `vars_`; from the cache when the dbt project is unchanged."""
    if dbt_dir is None:
        from govlake.settings import get_settings

        dbt_dir = get_settings().dbt_dir
    key = project_key(Path(dbt_dir), target, vars_)
    return _load(str(Path(dbt_dir).resolve()), key, target, json.dumps(vars_ or {}, sort_keys=True))["models"]


def project_key(dbt_dir: Path, target: str = DUCKDB, vars_: dict | None = None) -> str:
    """What a compile depends on: every file of the dbt project but its outputs, the target, the
    vars, the versions of dbt and the adapters."""
    from importlib.metadata import version

    h = hashlib.sha256(json.dumps([CACHE_FORMAT, version("dbt-core"), version("dbt-duckdb"), version("dbt-spark"),
                                   vars_ or {}, target], sort_keys=True).encode())
    for path in sorted(p for p in dbt_dir.rglob("*") if p.is_file()
                       and not _SKIP_DIRS & set(p.relative_to(dbt_dir).parts)):
        h.update(str(path.relative_to(dbt_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


@lru_cache(maxsize=16)
def _load(dbt_dir: str, key: str, target: str, vars_json: str) -> dict[str, dict]:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = CACHE_DIR / f"{key}.json"
    if not cached.exists():
        # one compile per project state, also across processes (test workers, a build and a CLI)
        with open(CACHE_DIR / f".{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not cached.exists():
                t = time.perf_counter()
                models = _compile(Path(dbt_dir), target, json.loads(vars_json))
                doc = {"compile_seconds": round(time.perf_counter() - t, 2), "models": models}
                tmp = cached.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(doc), encoding="utf-8")
                tmp.replace(cached)
    return json.loads(cached.read_text(encoding="utf-8"))


def _compile(dbt_dir: Path, target: str, vars_: dict) -> dict[str, dict]:
    """`dbt compile --target <target>` of the target's models (and their ancestors) into a
    throw-away target folder (the build's own manifest stays as it is). In a child process
    (dbtRunner there): dbt-duckdb's in-memory database and dbt's global state stay out of the
    build's process, which runs dbt on Spark. No relation cache: a compile lists no tables."""
    work = Path(tempfile.mkdtemp(prefix="govlake-dbt-compile-"))
    try:
        args = ["compile", "--select", *SELECT[target], "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir),
                "--target", target, "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
                "--no-populate-cache", "--log-level", "error", "--log-level-file", "none", "--no-use-colors",
                "--vars", json.dumps(vars_)]
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_VERSION_CHECK": "false"}
        proc = subprocess.run([sys.executable, "-m", __name__, json.dumps(args)], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise CompileFailed(f"dbt compile --target {target} failed (画像模型编译失败): "
                                + (proc.stdout + proc.stderr).strip()[-3000:])
        manifest = json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    relation = {uid: n.get("relation_name") for uid, n in {**manifest["nodes"], **manifest["sources"]}.items()}
    sources = {uid: f"bronze__{n['name']}" for uid, n in manifest["sources"].items() if n["source_name"] == "bronze"}
    out = {}
    for n in manifest["nodes"].values():
        if n["resource_type"] == "model" and n.get("relation_name"):
            deps = [d for d in n["depends_on"]["nodes"] if relation.get(d)]
            out[n["name"]] = {"sql": n.get("compiled_code"), "relation": n["relation_name"],
                              "reads": [relation[d] for d in deps],
                              "sources": {relation[d]: sources[d] for d in deps if d in sources}}
    return out


if __name__ == "__main__":  # the child process of _compile: one dbt invocation, its arguments as JSON
    from dbt.cli.main import dbtRunner

    sys.exit(0 if dbtRunner().invoke(json.loads(sys.argv[1])).success else 1)
