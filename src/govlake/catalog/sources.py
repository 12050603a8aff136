"""catalog/sources.yaml: the landing extracts, their bronze schemas and row rules.

Loading validates the file so a typo fails here with a clear message, not as a strange Spark
error three jobs later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from govlake import yamlio

TYPES = ("string", "int", "long", "double", "date", "timestamp", "boolean")
NUMERIC = ("int", "long", "double")
TEMPORAL = ("date", "timestamp")
# Rule order: the first failing rule names a quarantined row (docs/ingestion.md).
RULES = ("bad_encoding", "required", "type", "enum", "range", "pattern", "uscc", "after", "duplicate_key")
# Declared file encodings (Python codec -> Spark charset).
ENCODINGS = {"utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"}
# Whole-file limits of a source unless `defaults:` or the source says otherwise.
DEFAULT_LIMITS = {"encoding": "utf-8", "max_quarantine_share": 0.2, "min_quarantined_to_fail": 10,
                  "max_field_chars": 1_000_000}


class CatalogError(ValueError):
    """A catalog YAML file that does not make sense."""


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    check: str | None = None
    after: str | None = None

    def rules(self) -> list[str]:
        """Row rules that can fail on this column, in rule order."""
        out = ["bad_encoding"]
        if self.required:
            out.append("required")
        if self.type != "string":
            out.append("type")
        if self.enum:
            out.append("enum")
        if self.min is not None or self.max is not None:
            out.append("range")
        if self.pattern:
            out.append("pattern")
        if self.check == "uscc":
            out.append("uscc")
        if self.after:
            out.append("after")
        return out


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    system: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # Whole-file sanity (docs/ingestion.md): the declared encoding; a file fails when more than
    # max_quarantine_share of its records, and at least min_quarantined_to_fail of them, are
    # quarantined or undecodable; a field longer than max_field_chars is quarantined.
    encoding: str = "utf-8"
    max_quarantine_share: float = 0.2
    min_quarantined_to_fail: int = 10
    max_field_chars: int = 1_000_000

    @property
    def code_columns(self) -> list[str]:
        """Columns holding codes (a uscc check or a pattern): full-width digits and letters are
        folded to half-width before they are checked and stored."""
        return [c.name for c in self.columns if c.check == "uscc" or c.pattern]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def rules(self) -> list[str]:
        """Rules that apply to this source at all, in rule order."""
        present = {r for c in self.columns for r in c.rules()}
        if self.key:
            present.add("duplicate_key")
        return [r for r in RULES if r in present]


@dataclass(frozen=True)
class SourcesCatalog:
    formats: dict[str, str]
    sources: dict[str, Source] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Source:
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"unknown source {name!r}; catalog/sources.yaml has: {', '.join(self.sources)}") from None

    def __iter__(self):
        return iter(self.sources.values())

    @property
    def names(self) -> list[str]:
        return list(self.sources)


_COLUMN_KEYS = {"name", "label", "type", "required", "enum", "min", "max", "pattern", "check", "after"}


def _column(src: str, raw: dict) -> Column:
    where = f"sources.yaml: {src}.{raw.get('name', '?')}"
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_COLUMN_KEYS)}")
    for k in ("name", "label", "type"):
        if not raw.get(k):
            raise CatalogError(f"{where}: missing '{k}'")
    t = raw["type"]
    if t not in TYPES:
        raise CatalogError(f"{where}: unknown type {t!r} (列类型未知); allowed: {', '.join(TYPES)}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", raw["name"]):
        raise CatalogError(f"{where}: column names are lower-case ASCII ids, got {raw['name']!r}")
    if ("min" in raw or "max" in raw) and t not in NUMERIC + TEMPORAL:
        raise CatalogError(f"{where} ({raw['label']}): min/max need a numeric type, the column is {t}")
    if raw.get("enum") is not None and t != "string":
        raise CatalogError(f"{where} ({raw['label']}): enum needs type string, the column is {t}")
    if raw.get("pattern") is not None:
        if t != "string":
            raise CatalogError(f"{where} ({raw['label']}): pattern needs type string, the column is {t}")
        try:
            re.compile(raw["pattern"])
        except re.error as e:
            raise CatalogError(f"{where} ({raw['label']}): bad pattern {raw['pattern']!r}: {e}") from None
    if raw.get("check") not in (None, "uscc"):
        raise CatalogError(f"{where}: unknown check {raw['check']!r}; allowed: uscc")
    if raw.get("check") == "uscc" and t != "string":
        raise CatalogError(f"{where} ({raw['label']}): check uscc needs type string, the column is {t}")
    if raw.get("after") is not None and t not in TEMPORAL:
        raise CatalogError(f"{where} ({raw['label']}): after needs a date or timestamp column, the column is {t}")
    return Column(
        name=raw["name"], label=raw["label"], type=t, required=bool(raw.get("required", False)),
        enum=tuple(str(v) for v in raw["enum"]) if raw.get("enum") else None,
        min=raw.get("min"), max=raw.get("max"), pattern=raw.get("pattern"),
        check=raw.get("check"), after=raw.get("after"),
    )


def _limits(where: str, raw: dict, base: dict) -> dict:
    out = dict(base)
    for k in DEFAULT_LIMITS:
        if k in raw:
            out[k] = raw[k]
    if out["encoding"] not in ENCODINGS:
        raise CatalogError(f"{where}: unknown encoding {out['encoding']!r} (文件编码未知); allowed: {', '.join(ENCODINGS)}")
    if not isinstance(out["max_quarantine_share"], (int, float)) or not 0 <= out["max_quarantine_share"] <= 1:
        raise CatalogError(f"{where}: max_quarantine_share must be a share between 0 and 1, got {out['max_quarantine_share']!r}")
    for k in ("min_quarantined_to_fail", "max_field_chars"):
        if not isinstance(out[k], int) or out[k] < 0:
            raise CatalogError(f"{where}: {k} must be a whole number >= 0, got {out[k]!r}")
    return out


def parse_sources(doc: dict) -> SourcesCatalog:
    if not isinstance(doc, dict) or "sources" not in doc:
        raise CatalogError("sources.yaml: top-level 'sources' mapping is missing")
    defaults = _limits("sources.yaml: defaults", doc.get("defaults") or {}, DEFAULT_LIMITS)
    formats = {"date": "yyyy-MM-dd", "timestamp": "yyyy-MM-dd HH:mm:ss", **(doc.get("formats") or {})}
    out: dict[str, Source] = {}
    for name, s in doc["sources"].items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise CatalogError(f"sources.yaml: source names are lower-case ASCII ids, got {name!r}")
        cols = [_column(name, c) for c in s.get("columns") or []]
        if not cols:
            raise CatalogError(f"sources.yaml: {name} has no columns")
        seen: set[str] = set()
        for c in cols:
            if c.name in seen:
                raise CatalogError(f"sources.yaml: {name} has duplicate column {c.name!r} ({c.label})")
            seen.add(c.name)
        by_name = {c.name: c for c in cols}
        for c in cols:
            if c.after is not None:
                base = by_name.get(c.after)
                if base is None:
                    raise CatalogError(
                        f"sources.yaml: {name}.{c.name} ({c.label}) has after: {c.after!r}, "
                        f"but {name} has no such column")
                if base.type not in TEMPORAL:
                    raise CatalogError(f"sources.yaml: {name}.{c.name} ({c.label}) is after {c.after!r}, which is {base.type}, not a date/timestamp")
        key = tuple(s.get("key") or [])
        for k in key:
            if k not in by_name:
                raise CatalogError(f"sources.yaml: {name} key column {k!r} is not among its columns")
        out[name] = Source(name=name, label=s.get("label", name), system=s.get("system", ""), key=key, columns=tuple(cols),
                           **_limits(f"sources.yaml: {name}", s, defaults))
    return SourcesCatalog(formats=formats, sources=out)


def load_sources(catalog_dir: Path) -> SourcesCatalog:
    path = Path(catalog_dir) / "sources.yaml"
    with open(path, encoding="utf-8") as f:
        return parse_sources(yamlio.safe_load(f))
