"""catalog/departments.yaml (departments and their 权责清单) and catalog/certificate_types.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govlake import yamlio
from govlake.catalog.sources import CatalogError

KINDS = ("职能部门", "街道")


@dataclass(frozen=True)
class Responsibility:
    matter: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    kind: str
    issues_policies: bool
    petition_classes: tuple[str, ...]
    responsibilities: tuple[Responsibility, ...]
    street_code: str | None = None


@dataclass(frozen=True)
class CertificateType:
    key: str
    name: str
    issuer: str
    valid_years: int
    honour: bool


def parse_departments(doc: dict) -> list[Department]:
    out: list[Department] = []
    seen: set[str] = set()
    for d in (doc or {}).get("departments") or []:
        code = d.get("code")
        if not code or not d.get("name"):
            raise CatalogError(f"departments.yaml: every department needs code and name, got {d!r}")
        if code in seen:
            raise CatalogError(f"departments.yaml: duplicate department code {code!r} ({d['name']})")
        seen.add(code)
        if d.get("kind") not in KINDS:
            raise CatalogError(f"departments.yaml: {code} ({d['name']}) kind must be one of {KINDS}, got {d.get('kind')!r}")
        if d["kind"] == "街道" and not d.get("street_code"):
            raise CatalogError(f"departments.yaml: {code} ({d['name']}) is a 街道 and needs street_code")
        resp = tuple(
            Responsibility(r["matter"], tuple(r.get("keywords") or [])) for r in d.get("responsibilities") or []
        )
        out.append(Department(
            code=code, name=d["name"], kind=d["kind"], issues_policies=bool(d.get("issues_policies")),
            petition_classes=tuple(d.get("petition_classes") or []), responsibilities=resp,
            street_code=str(d["street_code"]) if d.get("street_code") else None,
        ))
    if not out:
        raise CatalogError("departments.yaml: no departments")
    return out


def load_departments(catalog_dir: Path) -> list[Department]:
    with open(Path(catalog_dir) / "departments.yaml", encoding="utf-8") as f:
        return parse_departments(yamlio.safe_load(f))


def parse_certificate_types(doc: dict) -> list[CertificateType]:
    out: list[CertificateType] = []
    keys: set[str] = set()
    for c in (doc or {}).get("certificate_types") or []:
        missing = [k for k in ("key", "name", "issuer", "valid_years") if c.get(k) in (None, "")]
        if missing:
            raise CatalogError(f"certificate_types.yaml: {c.get('name', c)} is missing {missing}")
        if c["key"] in keys:
            raise CatalogError(f"certificate_types.yaml: duplicate key {c['key']!r} ({c['name']})")
        keys.add(c["key"])
        out.append(CertificateType(c["key"], c["name"], c["issuer"], int(c["valid_years"]), bool(c.get("honour"))))
    return out


def load_certificate_types(catalog_dir: Path) -> list[CertificateType]:
    with open(Path(catalog_dir) / "certificate_types.yaml", encoding="utf-8") as f:
        return parse_certificate_types(yamlio.safe_load(f))
