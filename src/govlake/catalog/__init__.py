"""Loaders for the YAML catalog (catalog/): validated, typed, one function per file."""

from govlake.catalog.departments import (
    CertificateType,
    Department,
    Responsibility,
    load_certificate_types,
    load_departments,
    parse_certificate_types,
    parse_departments,
)
from govlake.catalog.sources import (
    RULES,
    CatalogError,
    Column,
    Source,
    SourcesCatalog,
    load_sources,
    parse_sources,
)

__all__ = [
    "RULES", "CatalogError", "Column", "Source", "SourcesCatalog", "load_sources", "parse_sources",
    "Department", "Responsibility", "CertificateType", "load_departments", "parse_departments",
    "load_certificate_types", "parse_certificate_types",
]
