"""Reference data the platform itself needs, shipped inside the package (package data), so a
fresh clone or a plain `pip install` runs without ../shared/data. Sources: README.md here.

    divisions/baoan_communities_2021.csv   宝安区 (440306) streets and communities, NBS codes 2021
    divisions/shenzhen_streets.csv         深圳市 streets (街道)
    divisions/shenzhen_districts.csv       深圳市 districts
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from functools import lru_cache
from importlib import resources
from pathlib import Path

BAOAN_COMMUNITIES = "baoan_communities_2021.csv"

_extracted = ExitStack()  # only used when the package is imported from a zip
atexit.register(_extracted.close)


@lru_cache(maxsize=None)
def reference_file(*parts: str) -> Path:
    """A file of the package's reference data as a real path (extracted once if zipped)."""
    res = resources.files(__name__).joinpath(*parts)
    if isinstance(res, Path):
        return res
    return _extracted.enter_context(resources.as_file(res))


def divisions_csv(name: str = BAOAN_COMMUNITIES) -> Path:
    """One of the administrative divisions files (行政区划); default: Bao'an's communities."""
    p = reference_file("divisions", name)
    if not p.is_file():
        raise FileNotFoundError(f"reference divisions file (行政区划) missing from the package: {p}")
    return p
