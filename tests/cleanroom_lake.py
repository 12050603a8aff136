"""The sandbox's world, for the clean-room tests (tests/cleanroom) and the portal's sandbox page
(tests/portal/test_cleanroom_page.py): a small profile lake (delta-rs, no Spark), an access
store with an outside party `bank_a` granted the profile (no 敏感 columns), and a catalog folder
whose model registry adds the tiny test model beside the real ones. At the top of tests/ so both
folders import it (the root conftest's folder is on sys.path)."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from govlake import access
from govlake.lakehouse import Lakehouse
from govlake.settings import Settings

PARTY, OTHER = "bank_a", "insurer_b"
PROFILE = "gold.enterprise_profile"
STREETS = {"440306017": 26, "440306018": 21, "440306019": 13}   # enterprises per street
INDUSTRIES, SIZES = ["C39", "I65", "F51"], ["小型", "微型", "中型"]


def enterprises() -> list[dict]:
    rnd = random.Random(7)
    rows, n = [], 0
    for street, count in STREETS.items():
        for _ in range(count):
            n += 1
            rows.append({"uscc": f"91440300{n:010d}", "ent_name": f"企业{n}", "street_code": street,
                         "industry_code": rnd.choice(INDUSTRIES), "enterprise_size": rnd.choice(SIZES),
                         "revenue_y1_wan": None if n % 9 == 0 else round(rnd.uniform(50, 5000), 1),
                         "insured_headcount_y1": rnd.randint(1, 300),
                         "contact_phone": f"1380000{n:04d}"})
    return rows


def make_catalog(base: Path) -> Path:
    """The repository's catalog, with the tiny model registered too."""
    src = Path(__file__).resolve().parents[1] / "catalog"
    dst = base / "catalog"
    dst.mkdir()
    for item in src.iterdir():
        if item.name != "cleanroom_models.yaml":
            (dst / item.name).symlink_to(item)
    text = (src / "cleanroom_models.yaml").read_text(encoding="utf-8")
    text += ("  - name: tiny_score\n    label: 测试评分\n    function: cleanroom_tiny_model:score\n    purpose: 融资预授信\n"
             "    input: gold.enterprise_profile\n    columns: [revenue_y1_wan, insured_headcount_y1, contact_phone]\n"
             "    outputs: [score, revenue_y1_wan]\n")
    (dst / "cleanroom_models.yaml").write_text(text, encoding="utf-8")
    return dst


def make_lake(settings: Settings) -> Lakehouse:
    lk = Lakehouse(None, settings)
    schema = pa.schema([("uscc", pa.string()), ("ent_name", pa.string()), ("street_code", pa.string()),
                        ("industry_code", pa.string()), ("enterprise_size", pa.string()),
                        ("revenue_y1_wan", pa.float64()), ("insured_headcount_y1", pa.int32()),
                        ("contact_phone", pa.string())])
    write_deltalake(str(lk.path(PROFILE)), pa.Table.from_pylist(enterprises(), schema), mode="append")
    return lk


def make_store(settings: Settings):
    s = access.open_store(settings)
    access.create_account(s, "admin", None, "admin")
    access.create_account(s, "owner_zsj", None, "owner", "ZSJ")
    for c, name in ((PARTY, "某银行·普惠金融"), (OTHER, "某保险公司")):
        access.add_consumer(s, c, name, "ZSJ", by="admin")
    a = access.apply(s, PARTY, PROFILE, "融资风险评估（沙箱）", by="admin")
    access.approve(s, a.id, by="owner_zsj")
    return s


