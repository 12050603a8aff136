"""catalog/work_calendar.yaml: which days are working days (工作日) — Monday to Friday, less the
public holidays, plus the weekend days made working days (调休上班)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from govlake import yamlio
from govlake.catalog.sources import CatalogError

FILE = "work_calendar.yaml"


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[dt.date]        # 法定节假日放假日（含调休）
    extra_workdays: frozenset[dt.date]  # 调休上班的周六、周日

    def is_workday(self, d: dt.date) -> bool:
        return d in self.extra_workdays or (d.weekday() < 5 and d not in self.holidays)

    def workdays_after(self, day: dt.date, n: int) -> tuple[dt.date, dt.date]:
        """The first and the n-th working day after `day` (e.g. a 公示期 of n working days)."""
        days, d = [], day
        while len(days) < n:
            d += dt.timedelta(days=1)
            if self.is_workday(d):
                days.append(d)
        return days[0], days[-1]


def _date(v) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


def parse_work_calendar(doc: dict) -> WorkCalendar:
    """The holiday periods expanded to days; a 调休 workday must be a weekend day and no holiday."""
    try:
        holidays = set()
        for h in doc["holidays"]:
            start, end = _date(h["from"]), _date(h["to"])
            if end < start:
                raise ValueError(f"holiday {h.get('label')} ends before it starts")
            holidays.update(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
        workdays = {_date(d) for d in doc["workdays"]}
    except (KeyError, TypeError, ValueError) as e:
        raise CatalogError(f"{FILE}: missing or malformed entry {e}") from e
    wrong = sorted(d for d in workdays if d.weekday() < 5 or d in holidays)
    if wrong:
        raise CatalogError(f"{FILE}: workdays {[d.isoformat() for d in wrong]} are not weekend days outside the holidays")
    return WorkCalendar(frozenset(holidays), frozenset(workdays))


@lru_cache(maxsize=4)  # WorkCalendar is frozen; every request handler loads it
def load_work_calendar(catalog_dir: Path) -> WorkCalendar:
    with open(Path(catalog_dir) / FILE, encoding="utf-8") as f:
        return parse_work_calendar(yamlio.safe_load(f))
