import copy

import pytest
import yaml

from govlake.catalog import CatalogError, load_certificate_types, load_departments, load_sources, parse_sources
from govlake.settings import get_settings


def _doc():
    with open(get_settings().catalog_dir / "sources.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_real_catalogs_load():
    d = get_settings().catalog_dir
    cat = load_sources(d)
    assert "petitions" in cat.names and cat["petitions"].key == ("ticket_id",)
    assert cat["enterprise_registry"].column("uscc").check == "uscc"
    assert len(load_departments(d)) >= 30
    assert {c.key for c in load_certificate_types(d)} >= {"hnte", "little_giant"}
    # Every certificate type is an allowed value of certificates.cert_type.
    assert {c.name for c in load_certificate_types(d)} == set(cat["certificates"].column("cert_type").enum)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["sources"]["tax_annual"]["columns"][1].update(type="integer"), "unknown type 'integer'"),
    (lambda d: d["sources"]["tax_annual"]["columns"].append(dict(d["sources"]["tax_annual"]["columns"][0])),
     "duplicate column 'uscc'"),
    (lambda d: d["sources"]["ip_records"]["columns"][4].update(after="filing_date"),
     "has after: 'filing_date', but ip_records has no such column"),
    (lambda d: d["sources"]["enterprise_registry"]["columns"][1].update(min=0), "min/max need a numeric type"),
    (lambda d: d["sources"]["tax_annual"]["columns"][1].update(pattern="^[0-9]{4}$"), "pattern needs type string"),
    (lambda d: d["sources"]["tax_annual"]["columns"][1].update(check="uscc"), "check uscc needs type string"),
    (lambda d: d["sources"]["tax_annual"].update(key=["uscc", "fiscal_year"]), "key column 'fiscal_year'"),
])
def test_validation_errors_are_clear(mutate, message):
    doc = copy.deepcopy(_doc())
    mutate(doc)
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_sources(doc)


def test_error_names_the_chinese_label():
    doc = copy.deepcopy(_doc())
    doc["sources"]["tax_annual"]["columns"][2]["pattern"] = "x"
    with pytest.raises(CatalogError, match="营业收入"):
        parse_sources(doc)
