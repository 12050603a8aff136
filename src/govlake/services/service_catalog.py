"""catalog/enterprise_services.yaml: the 诉求直达 categories, services and their standard forms,
and the validation of a filled form against its service (表单校验)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from govlake import yamlio
from govlake.catalog.departments import load_departments
from govlake.catalog.sources import CatalogError

FILE = "enterprise_services.yaml"
TYPES = ("text", "phone", "int", "number", "date", "choice")
PHONE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")


class FormError(ValueError):
    """A request form that does not satisfy its service's form; `problems` lists each field's."""

    def __init__(self, service_id: str, problems: list[str]):
        self.service_id, self.problems = service_id, problems
        super().__init__(f"request form for {service_id} is invalid (表单校验未通过): " + "; ".join(problems))


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str
    required: bool
    rules: dict

    def problem(self, value) -> str | None:
        """Why `value` is not acceptable for this field (None: it is), label in Chinese."""
        name = f"{self.label} ({self.id})"
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"{name} is required (必填)" if self.required else None
        r, t = self.rules, self.type
        if t in ("text", "phone"):
            if not isinstance(value, str):
                return f"{name} must be text"
            if t == "phone" and not PHONE.match(value.strip()):
                return f"{name} {value!r} is not a phone number (电话号码格式不正确)"
            if len(value) < r.get("min_len", 0):
                return f"{name} needs at least {r['min_len']} characters (内容过短)"
            if "max_len" in r and len(value) > r["max_len"]:
                return f"{name} has more than {r['max_len']} characters (内容过长)"
            if "pattern" in r and not re.match(r["pattern"], value.strip()):
                return f"{name} {value!r} is not in the expected format (格式不正确)"
        elif t in ("int", "number"):
            ok = isinstance(value, int) if t == "int" else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok:
                return f"{name} must be {'a whole number' if t == 'int' else 'a number'} (须为数字)"
            if "min" in r and value < r["min"] or "max" in r and value > r["max"]:
                return f"{name} {value} is outside {r.get('min')}..{r.get('max')} (超出范围)"
        elif t == "date":
            try:
                dt.date.fromisoformat(str(value))
            except ValueError:
                return f"{name} {value!r} is not a date YYYY-MM-DD (日期格式不正确)"
        elif t == "choice" and value not in r["options"]:
            return f"{name} {value!r} is not one of {r['options']} (不在可选项内)"
        return None


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    category_id: str
    category: str
    dept: str
    days: int
    form: tuple[FormField, ...]

    def validate(self, values: dict) -> dict:
        """The form's values (only its fields) or FormError naming every bad field."""
        known = {f.id for f in self.form}
        problems = [f"unknown field {k!r} (表单无此字段)" for k in values if k not in known]
        problems += [p for f in self.form if (p := f.problem(values.get(f.id))) is not None]
        if problems:
            raise FormError(self.id, problems)
        return {f.id: values[f.id] for f in self.form if values.get(f.id) not in (None, "")}


@dataclass(frozen=True)
class ServiceCatalog:
    categories: dict[str, str]  # id -> 中文名
    services: dict[str, Service]

    def service(self, service_id: str) -> Service:
        s = self.services.get(service_id)
        if s is None:
            raise KeyError(f"unknown service {service_id!r} (未知服务事项)")
        return s


def parse_services(doc: dict, dept_codes: set[str]) -> ServiceCatalog:
    try:
        fields = {}
        for fid, f in doc["fields"].items():
            if f.get("type") not in TYPES:
                raise CatalogError(f"{FILE}: field {fid} type must be one of {TYPES}, got {f.get('type')!r}")
            if f["type"] == "choice" and not f.get("options"):
                raise CatalogError(f"{FILE}: choice field {fid} needs options")
            rules = {k: v for k, v in f.items() if k not in ("label", "type", "required")}
            fields[fid] = FormField(fid, f["label"], f["type"], bool(f.get("required")), rules)
        common = list(doc["common"])
        cats, services = {}, {}
        for c in doc["categories"]:
            cats[c["id"]] = c["name"]
            for s in c["services"]:
                if s["id"] in services:
                    raise CatalogError(f"{FILE}: duplicate service id {s['id']} ({s['name']})")
                if s["dept"] not in dept_codes:
                    raise CatalogError(f"{FILE}: {s['id']} ({s['name']}) names unknown department {s['dept']!r}")
                if int(s["days"]) < 1:
                    raise CatalogError(f"{FILE}: {s['id']} ({s['name']}) needs a time limit of at least one working day")
                unknown = [f for f in s.get("form") or [] if f not in fields]
                if unknown:
                    raise CatalogError(f"{FILE}: {s['id']} ({s['name']}) names unknown form fields {unknown}")
                form = tuple(fields[f] for f in common + list(s.get("form") or []))
                services[s["id"]] = Service(s["id"], s["name"], c["id"], c["name"], s["dept"], int(s["days"]), form)
    except (KeyError, TypeError) as e:
        raise CatalogError(f"{FILE}: missing or malformed entry {e}") from e
    return ServiceCatalog(cats, services)


@lru_cache(maxsize=4)
def load_services(catalog_dir: Path) -> ServiceCatalog:
    with open(Path(catalog_dir) / FILE, encoding="utf-8") as f:
        doc = yamlio.safe_load(f)
    return parse_services(doc, {d.code for d in load_departments(Path(catalog_dir))})
