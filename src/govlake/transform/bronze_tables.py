"""The bronze tables dbt reads, as one list: the catalog's sources (govlake.catalog, validated)
plus the reference tables the ingest builds from catalog/departments.yaml.

The reference tables have no entry in sources.yaml; their bronze columns are mirrored here from
govlake.ingest.ingest_departments (rewritten whole on each load: no `_load_date`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govlake.catalog import load_sources as load_catalog_sources

# Columns every appended bronze source table carries besides the catalog's (docs/contracts.md).
BRONZE_META_COLUMNS = [
    ("_load_date", "加载日期", "date"),
    ("_source_file", "来源文件", "string"),
    ("_run_id", "加载批次", "string"),
]

SPARK_TYPES = {"string": "string", "int": "int", "long": "bigint", "double": "double", "date": "date",
               "timestamp": "timestamp", "boolean": "boolean", "array<string>": "array<string>"}


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    system: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    snapshot: bool = False  # True: rewritten whole each load, no _load_date to dedupe on

    @property
    def table(self) -> str:
        return f"bronze.{self.name}"

    @property
    def bronze_columns(self) -> list[tuple[str, str, str]]:
        """(name, label, type) of the bronze table, catalog columns then the load columns."""
        cols = [(c.name, c.label, c.type) for c in self.columns]
        return cols if self.snapshot else cols + BRONZE_META_COLUMNS


REFERENCE_SOURCES = [
    Source("departments", "部门", "catalog/departments.yaml", ("code",), (
        Column("code", "部门代码", "string"),
        Column("name", "部门名称", "string"),
        Column("kind", "部门类型（职能部门/街道）", "string", ("职能部门", "街道")),
        Column("street_code", "街道代码", "string"),
        Column("issues_policies", "是否发布惠企政策", "boolean"),
        Column("petition_classes", "负责的诉求一级分类", "array<string>"),
        Column("responsibility_count", "权责事项数", "int"),
    ), snapshot=True),
    Source("dept_responsibilities", "部门权责清单关键词", "catalog/departments.yaml",
           ("dept_code", "matter", "keyword"), (
        Column("dept_code", "部门代码", "string"),
        Column("dept_name", "部门名称", "string"),
        Column("matter", "权责事项", "string"),
        Column("keyword", "关键词", "string"),
    ), snapshot=True),
]


def load_sources(catalog_dir: Path) -> list[Source]:
    """Every bronze table dbt reads: catalog/sources.yaml in file order, then the reference tables."""
    out = [
        Source(s.name, s.label, s.system, tuple(s.key),
               tuple(Column(c.name, c.label, c.type, tuple(c.enum or ())) for c in s.columns))
        for s in load_catalog_sources(Path(catalog_dir))
    ]
    return out + REFERENCE_SOURCES
