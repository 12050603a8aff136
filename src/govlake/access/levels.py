"""Column levels (字段分级) from the catalog, and what a grant leaves visible (脱敏).

Levels: 公开 (public) < 内部 (internal) < 敏感 (sensitive). A product declares where its levels come
from: `levels_from: enterprise_fields` (the profile: each field's level from its category in
catalog/enterprise_fields, or the field's own `level:`), else the contract columns' `level`.
`column_levels:` in products.yaml may raise a column's level (never lower a catalog field's). A
column nobody classified is 内部 (公开 in a 公开 product).

A consumer with a grant sees 公开 and 内部 columns, and 敏感 ones only when the grant says
`sensitive`; a consumer reading a 公开 product without a grant sees its 公开 columns only.
Text built from values (tag evidence, policy-match explanations) is masked where it was built
from a column the reader may not see (govlake.api.app).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from govlake.settings import Settings

ORDER = {"公开": 0, "内部": 1, "敏感": 2}


@lru_cache(maxsize=4)
def _enterprise_levels(catalog_dir: str) -> dict[str, str]:
    from govlake.catalog.enterprise import load_enterprise_fields

    return {f.id: f.level for f in load_enterprise_fields(Path(catalog_dir)).fields}


@lru_cache(maxsize=4)
def _tag_fields(catalog_dir: str) -> dict[str, frozenset[str]]:
    """tag id -> the profile fields its rule reads (directly or through the tags it refers to)."""
    from govlake.catalog.enterprise import load_enterprise_tags

    tags = {t.id: t for t in load_enterprise_tags(Path(catalog_dir))}
    out: dict[str, frozenset[str]] = {}

    def fields(tid: str, seen: frozenset = frozenset()) -> frozenset[str]:
        if tid in out:
            return out[tid]
        t = tags.get(tid)
        if t is None or tid in seen:
            return frozenset()
        got = frozenset(t.fields).union(*(fields(x, seen | {tid}) for x in t.tags))
        out[tid] = got
        return got

    for tid in tags:
        fields(tid)
    return out


_cached_levels: dict[int, tuple[object, str, dict[str, str]]] = {}


def _levels(product, settings: Settings) -> dict[str, str]:
    """column_levels, kept per product object (a catalog edit loads new objects): every read
    masks by it, and the profile has some 1,500 classified fields. Not to be modified."""
    hit = _cached_levels.get(id(product))
    if hit is not None and hit[0] is product and hit[1] == str(settings.catalog_dir):
        return hit[2]
    levels = column_levels(product, settings)
    if len(_cached_levels) > 256:
        _cached_levels.clear()
    _cached_levels[id(product)] = (product, str(settings.catalog_dir), levels)
    return levels


def column_levels(product, settings: Settings) -> dict[str, str]:
    """Every classified column of a product -> 公开/内部/敏感."""
    levels: dict[str, str] = {}
    if product.levels_from == "enterprise_fields":
        levels.update(_enterprise_levels(str(settings.catalog_dir)))
    for c in product.contract.columns:
        if c.level:
            levels[c.name] = _max(levels.get(c.name), c.level)
    for col, lv in product.column_levels.items():
        levels[col] = _max(levels.get(col), lv)
    return levels


def _max(a: str | None, b: str) -> str:
    return b if a is None or ORDER[b] > ORDER[a] else a


def level_of(product, column: str, levels: dict[str, str]) -> str:
    return levels.get(column) or ("公开" if product.classification == "公开" else "内部")


def visible_max(grant) -> int:
    """The highest level a reader sees: 敏感 with a sensitive grant, 内部 with a grant, else 公开."""
    if grant is None:
        return ORDER["公开"]
    return ORDER["敏感"] if grant.sensitive else ORDER["内部"]


def masked_columns(product, grant, columns: list[str], settings: Settings) -> list[str]:
    """Of `columns`, those served as *** to the holder of `grant` (None: no grant)."""
    levels, top = _levels(product, settings), visible_max(grant)
    return [c for c in columns if ORDER[level_of(product, c, levels)] > top]


def hidden_profile_fields(profile, grant, settings: Settings) -> frozenset[str]:
    """Fields of the profile product the holder of `grant` (a grant for the product that
    quotes them) may not see: their values stay out of derived text."""
    top = visible_max(grant)
    return frozenset(f for f, lv in _levels(profile, settings).items() if ORDER[lv] > top)


def tags_reading(hidden: frozenset[str], settings: Settings) -> frozenset[str]:
    """The tags whose evidence quotes one of the `hidden` profile fields."""
    if not hidden:
        return frozenset()
    return frozenset(t for t, fs in _tag_fields(str(settings.catalog_dir)).items() if fs & hidden)
