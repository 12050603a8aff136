"""A small lake for the access tests, written with delta-rs (no Spark): a profile and its tags
(deletion vectors on, so reads take the SQL path) and a street report, a few rows each."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from deltalake import write_deltalake

from govlake.lakehouse import Lakehouse

U1, U2 = "914403000000000001", "914403000000000002"
PHONE, ADDRESS, EQUITY = "13800000001", "深圳市宝安区新安街道一号", 4321.5
MY_STREET, OTHER_STREET = "440306017", "440306018"


def write_table(lake: Lakehouse, table: str, data: dict, **kw) -> None:
    write_deltalake(str(lake.path(table)), pa.table(data), mode="append", **kw)


def build(settings) -> Lakehouse:
    lk = Lakehouse(None, settings)
    dv = {"configuration": {"delta.enableDeletionVectors": "true"}}  # served through the SQL path
    write_table(lk, "gold.enterprise_profile", {
        "uscc": [U1, U2], "ent_name": ["甲科技", "乙制造"], "street_code": [MY_STREET, OTHER_STREET],
        "contact_phone": [PHONE, None], "reg_address": [ADDRESS, "某地"], "legal_rep": ["张三", "李四"],
        "equity_financing_3y_wan": [EQUITY, 0.0], "reg_capital_wan": [100.0, 500.0]}, **dv)
    write_table(lk, "gold.enterprise_tags", {
        "uscc": [U1, U1], "tag_id": ["equity_3y_ge_1000", "T_PLAIN"], "tag_name": ["近三年股权融资超千万", "普通标签"],
        "evidence": [f"equity_financing_3y_wan={EQUITY} >= 1000", "证书"]}, **dv)
    day = pa.array([dt.date(2026, 11, 1)] * 3, pa.date32())
    write_table(lk, "gold.rpt_petition_sla_daily", {
        "period_start": day, "dept_code": ["RLJ", "RLJ", "ZJJ"], "street_code": [MY_STREET, OTHER_STREET, MY_STREET],
        "category_l1": ["劳动", "劳动", "城建"], "tickets": [3, 7, 2]})
    return lk
