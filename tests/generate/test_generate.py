import datetime as dt
import hashlib
import json

import pandas as pd
import pytest

from govlake.catalog import load_sources
from govlake.generate import generate_all, generate_changes, read_manifest
from govlake.generate.extract import BAD_BYTES
from govlake.reference import divisions_csv
from govlake.settings import Settings

D = dt.date(2026, 11, 21)


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.csv")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a = Settings(lake_root=tmp_path / "a")
    b = Settings(lake_root=tmp_path / "b")
    c = Settings(lake_root=tmp_path / "c")
    generate_all(a, 400, 11, D)
    generate_all(b, 400, 11, D)
    generate_all(c, 400, 12, D)
    assert _digest(a.landing_dir) == _digest(b.landing_dir)
    assert _digest(a.landing_dir) != _digest(c.landing_dir)


def test_manifest_and_files(settings):
    m = generate_all(settings, 600, 3, D)
    assert read_manifest(settings, D)["sources"] == json.loads(json.dumps(m["sources"]))
    catalog = load_sources(settings.catalog_dir)
    assert set(m["sources"]) == set(catalog.names)
    for src in catalog:
        info = m["sources"][src.name]
        assert set(info["bad_rows"]) == set(src.rules()), src.name
        assert all(v >= 1 for v in info["bad_rows"].values()), (src.name, info["bad_rows"])
        path = settings.landing_dir / src.name / D.isoformat() / "part-00000.csv"
        data = path.read_bytes()
        assert data.split(b"\n", 1)[0].decode() == ",".join(src.column_names)
        # Exactly the bad_encoding rows carry GBK bytes that are not UTF-8.
        assert data.count(BAD_BYTES) == info["bad_rows"]["bad_encoding"]
    assert m["sources"]["petitions"]["rows"] >= 3000
    assert m["sources"]["enterprise_registry"]["rows"] == 600 + m["sources"]["enterprise_registry"]["bad_rows"]["duplicate_key"]


def test_content_is_realistic(settings):
    generate_all(settings, 2000, 5, D, bad_share=0)
    reg = pd.read_csv(settings.landing_dir / "enterprise_registry" / D.isoformat() / "part-00000.csv", dtype=str)
    comm = pd.read_csv(divisions_csv(), dtype=str)
    assert set(reg["community_code"]) <= set(comm["community_code"].str.strip())
    assert reg["address"].str.startswith("深圳市宝安区").all()
    assert reg["industry_code"].str.startswith("C39").mean() > 0.15
    pet = pd.read_csv(settings.landing_dir / "petitions" / D.isoformat() / "part-00000.csv", dtype=str,
                      keep_default_na=False)
    assert pet["ticket_id"].is_unique
    assert pet["requester_id"].value_counts().max() >= 3  # repeat requesters
    assert pet["content"].str.contains("街道|社区|路|这边|附近").mean() > 0.8
    assert pet["submit_time"].min() >= "2025-11-21" and pet["submit_time"].max() < "2026-11-21"
    closed = pet[pet["closed_time"] != ""]
    assert (closed["closed_time"] >= closed["submit_time"]).all()
    assert set(pet["category_l1"]) >= {"城乡建设", "劳动和社会保障", "环境保护", "企业诉求"}
    cert = pd.read_csv(settings.landing_dir / "certificates" / D.isoformat() / "part-00000.csv", dtype=str)
    assert ((cert["status"] == "过期") == ((cert["expiry_date"] < D.isoformat()) & (cert["status"] != "撤销"))).all()
    # 高企 certificates sit with high-R&D firms.
    tax = pd.read_csv(settings.landing_dir / "tax_annual" / D.isoformat() / "part-00000.csv", dtype=str)
    rd = pd.read_csv(settings.landing_dir / "rd_activity" / D.isoformat() / "part-00000.csv", dtype=str)
    y = tax[tax.year == "2025"].merge(rd[rd.year == "2025"], on=["uscc", "year"], how="left")
    y["ratio"] = y["rd_expense_wan"].astype(float).fillna(0) / y["revenue_wan"].astype(float)
    hnte = set(cert.loc[cert.cert_type == "高新技术企业证书", "uscc"])
    assert y[y.uscc.isin(hnte)]["ratio"].median() > 0.03 > y[~y.uscc.isin(hnte)]["ratio"].median()


def test_changes_need_a_base_manifest(settings):
    with pytest.raises(FileNotFoundError, match="govlake generate"):
        generate_changes(settings, 1, D, D + dt.timedelta(days=1))
