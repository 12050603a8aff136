"""Expectation suites, generated from the catalog — never hand-typed.

A suite is GX 1.x JSON (`ExpectationSuite.to_json_dict()` shape: name, expectations[type, kwargs,
meta], meta). Every expectation's meta carries `label` (the column's Chinese name) and `rule` (the
catalog rule it comes from), so a failing gate can say which field broke which rule.

Three generators, one output shape:
  * `suite_from_source(name, source)`   bronze.<source> from catalog/sources.yaml
  * `suite_from_columns(name, cols, key)` any table from a generic column-spec list (wide profile)
  * `suite_for_product(product)`         a data product's contract (catalog/products.yaml)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from govlake.settings import Settings, get_settings

# catalog type -> the Spark type name GX's expect_column_values_to_be_of_type compares with
SPARK_TYPES = {
    "string": "StringType", "int": "IntegerType", "long": "LongType", "double": "DoubleType",
    "float": "FloatType", "date": "DateType", "timestamp": "TimestampType", "boolean": "BooleanType",
}
# GB 32100-2015 shape; the check character itself is verified at ingest (quarantine rule `uscc`).
USCC_REGEX = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
# Columns ingest adds to every bronze table (docs/contracts.md).
BRONZE_META = [("_load_date", "date", "装载日期", True), ("_source_file", "string", "来源文件", False),
               ("_run_id", "string", "运行编号", False)]


@dataclass
class ColumnSpec:
    """Generic column contract, for tables whose columns come from somewhere other than sources.yaml."""

    name: str
    type: str  # catalog type: string|int|long|double|date|timestamp|boolean
    label: str | None = None
    nullable: bool = True
    max_null_rate: float | None = None  # 0.2 -> at least 80 % of rows filled
    min: float | None = None
    max: float | None = None
    allowed_values: list | None = None
    pattern: str | None = None
    unique: bool = False
    extra: dict = field(default_factory=dict)  # room for a caller's own meta


def _exp(expectation: str, rule: str, label: str | None = None, **kwargs) -> dict:
    meta = {"rule": rule}
    if label:
        meta["label"] = label
    return {"type": expectation, "kwargs": kwargs, "meta": meta}


def _column_expectations(c: ColumnSpec) -> list[dict]:
    n, lb = c.name, c.label
    out = [_exp("expect_column_to_exist", "exists", lb, column=n)]
    if c.type in SPARK_TYPES:
        out.append(_exp("expect_column_values_to_be_of_type", "type", lb, column=n, type_=SPARK_TYPES[c.type]))
    if not c.nullable:
        out.append(_exp("expect_column_values_to_not_be_null", "required", lb, column=n))
    elif c.max_null_rate is not None:
        out.append(_exp("expect_column_proportion_of_non_null_values_to_be_between", "max_null_rate", lb,
                        column=n, min_value=round(1.0 - c.max_null_rate, 6)))
    if c.allowed_values is not None:
        out.append(_exp("expect_column_values_to_be_in_set", "enum", lb, column=n, value_set=list(c.allowed_values)))
    if c.min is not None or c.max is not None:
        kw = {k: v for k, v in (("min_value", c.min), ("max_value", c.max)) if v is not None}
        out.append(_exp("expect_column_values_to_be_between", "range", lb, column=n, **kw))
    if c.pattern:
        out.append(_exp("expect_column_values_to_match_regex", "pattern", lb, column=n, regex=c.pattern))
    if c.unique:
        out.append(_exp("expect_column_values_to_be_unique", "unique", lb, column=n))
    return out


def _key_expectations(key: list[str], labels: dict[str, str]) -> list[dict]:
    label = " + ".join(labels.get(k, k) for k in key)
    if len(key) == 1:
        return [_exp("expect_column_values_to_not_be_null", "key", label, column=key[0]),
                _exp("expect_column_values_to_be_unique", "key", label, column=key[0])]
    return [_exp("expect_compound_columns_to_be_unique", "key", label, column_list=list(key))]


def _suite(name: str, expectations: list[dict], **meta) -> dict:
    # De-duplicate (a key column may also be declared unique/required) keeping the first.
    seen, exps = set(), []
    for e in expectations:
        sig = json.dumps([e["type"], e["kwargs"]], sort_keys=True, ensure_ascii=False)
        if sig not in seen:
            seen.add(sig)
            exps.append(e)
    return {"name": name, "expectations": exps,
            "meta": {"generated_by": "govlake.quality.suites", **meta}, "notes": None}


def suite_from_columns(name: str, columns: list[ColumnSpec], key: list[str], *, min_rows: int = 1) -> dict:
    """Suite for any table from a column-spec list: typed existence, nulls, ranges, sets, key;
    at least min_rows rows."""
    labels = {c.name: c.label or c.name for c in columns}
    exps = [_exp("expect_table_row_count_to_be_between", "non_empty", None, min_value=min_rows)]
    for c in columns:
        exps += _column_expectations(c)
    if key:
        exps += _key_expectations(list(key), labels)
    return _suite(name, exps, labels=labels, key=list(key))


def suite_from_source(name: str, source) -> dict:
    """bronze.<name> suite from a catalog Source (govlake.catalog.sources): every row rule,
    typed columns, key unique within a load."""
    specs: list[ColumnSpec] = []
    pairs: list[dict] = []
    for col in source.columns:
        specs.append(ColumnSpec(
            name=col.name, type=col.type, label=col.label, nullable=not col.required,
            min=col.min, max=col.max, allowed_values=list(col.enum) if col.enum else None,
            pattern=col.pattern or (USCC_REGEX if col.check == "uscc" else None),
        ))
        if col.after:
            pairs.append(_exp("expect_column_pair_values_a_to_be_greater_than_b", "after", col.label,
                              column_A=col.name, column_B=col.after, or_equal=True,
                              ignore_row_if="either_value_is_missing"))
    specs += [ColumnSpec(n, t, label=lb, nullable=not req) for n, t, lb, req in BRONZE_META]
    suite = suite_from_columns(f"bronze.{name}", specs, key=[])
    labels = suite["meta"]["labels"]
    key = [*source.key, "_load_date"]
    # A key repeats across loads by design (yearly extracts); it must be unique within one load.
    suite["expectations"] += pairs + _key_expectations(key, labels)
    suite["meta"].update(key=key, source_label=source.label)
    return suite


def suite_for_product(product) -> dict:
    """Contract suite of a data product (govlake.products.Product): key + required columns."""
    c = product.contract
    specs = [ColumnSpec(col.name, col.type or "", label=col.label, nullable=col.nullable,
                        allowed_values=col.enum, min=col.min, max=col.max)
             for col in c.columns]
    return suite_from_columns(product.name, specs, key=c.key, min_rows=c.min_rows)


# -- files -------------------------------------------------------------------------------------
def expectations_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).repo_root / "expectations"


def suite_path(table: str, settings: Settings | None = None) -> Path:
    layer, _, name = table.partition(".")
    return expectations_dir(settings) / layer / f"{name}.json"


def write_suite(suite: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def load_suite(name: str, settings: Settings | None = None) -> dict:
    """`bronze.petitions` -> expectations/bronze/petitions.json; a path is read as is."""
    p = Path(name) if name.endswith(".json") else suite_path(name, settings)
    if not p.exists():
        raise FileNotFoundError(f"no expectation suite {name!r} at {p}; run `govlake quality generate-suites`")
    return json.loads(p.read_text(encoding="utf-8"))


def load_sources(settings: Settings | None = None) -> dict:
    """name -> Source, through the validating catalog loader."""
    from govlake.catalog.sources import load_sources as load

    return dict(load((settings or get_settings()).catalog_dir).sources)


def generate_suites(settings: Settings | None = None, out_dir: Path | None = None) -> list[Path]:
    """Write every generated suite: bronze per source, gold/ops per product contract.

    A product whose `suite` in products.yaml names its own file (the wide profile, fed through
    `suite_from_columns` by the profile build) is left alone.
    """
    from govlake.products import load_products

    s = settings or get_settings()
    out = out_dir or expectations_dir(s)
    written = []
    for name, source in load_sources(s).items():
        written.append(write_suite(suite_from_source(name, source), out / "bronze" / f"{name}.json"))
    for product in load_products(s).values():
        if product.suite:
            continue
        layer, _, name = product.name.partition(".")
        written.append(write_suite(suite_for_product(product), out / layer / f"{name}.json"))
    return written


def product_suite(product, settings: Settings | None = None) -> dict:
    """The suite that gates a product: its suite file if one was generated, else its contract."""
    p = suite_path(product.name, settings)
    if p.exists():
        return json.loads(p.read_text(encoding="utf-8"))
    return suite_for_product(product)
