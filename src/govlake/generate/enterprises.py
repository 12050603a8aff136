"""The enterprise population (法人库) and everything attached to it: registry, yearly tax /
social insurance / R&D / statistics, events (IP, credit, financing, subsidies, space) and
certificates. Vectorised with numpy so 900,000 enterprises take seconds per table, not hours.

Each enterprise gets a hidden profile (size class, R&D intensity, 高企-like, 专精特新-like) that
drives all its records, so the correlations policies look for exist in the data.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from govlake.catalog import CertificateType, Department
from govlake.generate import vocab
from govlake.generate.divisions import Divisions, sample_addresses
from govlake.generate.uscc import make_usccs

SIZES = np.array(["micro", "small", "medium", "large"])
SIZE_P = [0.72, 0.21, 0.06, 0.01]
# Median revenue (万元) and insured headcount range per size class.
REV_MEDIAN = np.array([120.0, 1500.0, 12000.0, 90000.0])
HEAD_LO = np.array([0, 20, 300, 1000])
HEAD_HI = np.array([20, 300, 1000, 8000])


def _sw(a, prefix) -> np.ndarray:
    """Vectorised startswith for object or str arrays; prefix may be a tuple."""
    return pd.Series(a, dtype=object).str.startswith(prefix).to_numpy(bool)


def _zfill(a: np.ndarray, width: int) -> np.ndarray:
    a = np.asarray(a).astype(str)
    return np.char.zfill(a, width) if a.size else a


def _days(d: dt.date) -> np.datetime64:
    return np.datetime64(d, "D")


def _pick(rng, items, n, p=None):
    items = np.asarray(items)
    if p is not None:
        p = np.asarray(p, float)
        p = p / p.sum()
    return items[rng.choice(len(items), size=n, p=p)]


def chinese_names(rng: np.random.Generator, n: int) -> np.ndarray:
    s = _pick(rng, vocab.SURNAMES, n)
    g1 = _pick(rng, vocab.GIVEN_CHARS, n)
    g2 = np.where(rng.random(n) < 0.65, _pick(rng, vocab.GIVEN_CHARS, n), "")
    return np.char.add(np.char.add(s, g1), g2)


def build_population(rng: np.random.Generator, n: int, as_of: dt.date, div: Divisions) -> pd.DataFrame:
    """One row per enterprise: registry columns plus the hidden profile used by the other tables."""
    codes, w, words = zip(*vocab.INDUSTRIES)
    ind_i = rng.choice(len(codes), size=n, p=np.array(w) / sum(w))
    industry = np.array(codes)[ind_i]
    size_i = rng.choice(4, size=n, p=SIZE_P)
    techy = np.array([c.startswith(vocab.TECH_PREFIXES) for c in codes])[ind_i]
    manuf = _sw(industry, "C")
    # 高企-like R&D intensity: ~12% of tech-industry firms, ~2% elsewhere; small/medium more often.
    hightech = rng.random(n) < np.where(techy, 0.12 + 0.05 * (size_i > 0), 0.02)
    srdi = hightech & (manuf | _sw(industry, "I65")) & np.isin(size_i, [1, 2]) & (rng.random(n) < 0.35)
    rd_any = hightech | (rng.random(n) < np.where(techy, 0.35, 0.08))
    rd_intensity = np.where(hightech, rng.uniform(0.04, 0.12, n), np.where(rd_any, rng.uniform(0.002, 0.03, n), 0.0))
    rd_intensity = np.where(srdi, rng.uniform(0.05, 0.15, n), rd_intensity)

    age_years = np.where(size_i == 0, rng.exponential(5, n), rng.uniform(2, 28, n) * (0.6 + 0.2 * size_i))
    age_days = np.minimum(age_years * 365.25, 40 * 365).astype(int) + 30
    reg_date = _days(as_of) - age_days
    new_style = reg_date >= np.datetime64("2015-10-01")
    region = np.where(rng.random(n) < 0.7, "440306", "440300")
    m = int(n * 1.02) + 16
    cand = make_usccs(rng, m, np.resize(region, m), np.resize(new_style, m))
    _, first = np.unique(cand, return_index=True)
    uscc = cand[np.sort(first)[:n]]

    etype = np.where(size_i >= 2, _pick(rng, ["有限责任公司", "股份有限公司", "外商投资企业"], n, [0.6, 0.25, 0.15]),
                     _pick(rng, ["有限责任公司", "个人独资企业", "合伙企业", "外商投资企业", "股份有限公司"], n,
                           [0.88, 0.05, 0.035, 0.025, 0.01]))
    trade = np.char.add(_pick(rng, vocab.TRADE_CHARS, n), _pick(rng, vocab.TRADE_CHARS, n))
    word = np.array(words)[ind_i]
    suffix = np.select(
        [etype == "股份有限公司", etype == "个人独资企业", etype == "合伙企业", etype == "外商投资企业"],
        ["股份有限公司", "经营部", "企业（有限合伙）", "（深圳）有限公司"], default="有限公司")
    name = np.char.add(np.char.add(np.char.add("深圳市", trade), word), suffix)
    name = np.where(etype == "外商投资企业", np.char.add(np.char.add(trade, word), suffix), name)

    capital = np.round(np.exp(rng.normal(np.log([50, 300, 2000, 20000])[size_i], 0.8)), 2)
    status = _pick(rng, ["存续", "在业", "迁出", "注销", "吊销"], n, [0.80, 0.12, 0.03, 0.04, 0.01])
    addr = sample_addresses(rng, div, n)
    mobile = np.char.add(_pick(rng, ["138", "139", "135", "136", "137", "150", "158", "186", "189", "177"], n),
                         rng.integers(10_000_000, 99_999_999, n).astype(str))
    fixed = np.char.add("0755-", rng.integers(20_000_000, 89_999_999, n).astype(str))
    phone = np.where(rng.random(n) < 0.2, "", np.where(rng.random(n) < 0.5, mobile, fixed))
    listed = (size_i == 3) & (rng.random(n) < 0.15) | (size_i == 2) & (rng.random(n) < 0.01)
    base_rev = np.exp(rng.normal(np.log(REV_MEDIAN[size_i]), 0.7))
    growth = np.where(srdi, rng.normal(0.2, 0.12, n), np.where(hightech, rng.normal(0.12, 0.15, n), rng.normal(0.04, 0.2, n)))
    head = rng.integers(HEAD_LO[size_i], HEAD_HI[size_i] + 1)
    return pd.DataFrame({
        "uscc": uscc, "name": name, "legal_rep": chinese_names(rng, n), "enterprise_type": etype,
        "industry_code": industry, "reg_date": reg_date, "reg_capital_wan": capital, "status": status,
        "street_code": addr["street_code"].to_numpy(), "community_code": addr["community_code"].to_numpy(),
        "address": addr["address"].to_numpy(), "phone": phone, "is_listed": listed,
        # hidden profile
        "_size": size_i, "_hightech": hightech, "_srdi": srdi, "_rd_any": rd_any, "_rd_intensity": rd_intensity,
        "_manuf": manuf, "_base_rev": base_rev, "_growth": growth, "_head": head,
        "_street_name": addr["street_name"].to_numpy(), "_community_name": addr["community_name"].to_numpy(),
        "_stem": addr["stem"].to_numpy(), "_road": addr["road"].to_numpy(), "_building": addr["building"].to_numpy(),
        "_trade": trade,
    })


def registry(pop: pd.DataFrame) -> pd.DataFrame:
    return pop[[c for c in pop.columns if not c.startswith("_")]]


def _years(as_of: dt.date) -> list[int]:
    return [as_of.year - 3, as_of.year - 2, as_of.year - 1]


def _active_in(pop: pd.DataFrame, year: int) -> np.ndarray:
    reg_year = pop["reg_date"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    return (reg_year <= year) & pop["status"].isin(["存续", "在业", "迁出"]).to_numpy()


def yearly(rng: np.random.Generator, pop: pd.DataFrame, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """tax_annual, social_insurance, rd_activity, statistics for the last three full years."""
    tax, social, rd, stat = [], [], [], []
    n = len(pop)
    years = _years(as_of)
    credit = _pick(rng, ["A", "B", "M", "C", "D", ""], n, [0.25, 0.55, 0.1, 0.04, 0.01, 0.05])
    hightech = pop["_hightech"].to_numpy()
    manuf = pop["_manuf"].to_numpy()
    ind = pop["industry_code"].to_numpy()
    bach_ratio = np.where(hightech, rng.uniform(0.35, 0.8, n), rng.uniform(0.03, 0.4, n))
    rd_staff_ratio = np.where(hightech, rng.uniform(0.1, 0.45, n), np.where(pop["_rd_any"], rng.uniform(0.01, 0.1, n), 0))
    center = np.where(hightech, _pick(rng, ["无", "区级", "市级", "省级", "国家级"], n, [0.5, 0.2, 0.2, 0.08, 0.02]), "无")
    for k, y in enumerate(years):
        act = _active_in(pop, y)
        idx = np.flatnonzero(act)
        m = len(idx)
        rev = pop["_base_rev"].to_numpy()[idx] * np.power(1 + pop["_growth"].to_numpy()[idx], k) * rng.lognormal(0, 0.08, m)
        rev = np.round(rev, 2)
        tax_rate = rng.uniform(0.015, 0.07, m)
        total_tax = np.round(rev * tax_rate, 2)
        profit = np.round(rev * rng.normal(0.06, 0.08, m), 2)
        rd_exp = np.round(rev * pop["_rd_intensity"].to_numpy()[idx] * rng.uniform(0.85, 1.15, m), 2)
        ht = hightech[idx]
        tax.append(pd.DataFrame({
            "uscc": pop["uscc"].to_numpy()[idx], "year": y, "revenue_wan": rev, "total_tax_wan": total_tax,
            "vat_wan": np.round(total_tax * rng.uniform(0.5, 0.7, m), 2),
            "cit_wan": np.round(np.maximum(profit, 0) * np.where(ht, 0.15, 0.25), 2),
            "profit_wan": profit,
            "export_wan": np.where(manuf[idx] & (rng.random(m) < 0.3), np.round(rev * rng.uniform(0.05, 0.7, m), 2), np.nan),
            "hightech_revenue_wan": np.where(ht, np.round(rev * rng.uniform(0.6, 0.95, m), 2), np.nan),
            "rd_deduction_wan": np.where(rd_exp > 0, rd_exp, np.nan),
            "tax_credit_grade": credit[idx],
        }))
        head = np.maximum(0, np.round(pop["_head"].to_numpy()[idx] * np.power(1 + pop["_growth"].to_numpy()[idx] / 2, k))).astype(int)
        social.append(pd.DataFrame({
            "uscc": pop["uscc"].to_numpy()[idx], "year": y, "insured_headcount": head,
            "avg_insured_headcount": np.round(head * rng.uniform(0.9, 1.05, m), 1),
            "avg_monthly_wage": np.round(np.where(ht, rng.uniform(9000, 26000, m), rng.uniform(4500, 14000, m)), 0),
            "bachelor_plus_count": np.round(head * bach_ratio[idx]).astype(int),
            "rd_staff_count": np.round(head * rd_staff_ratio[idx]).astype(int),
            "new_hires": np.round(head * rng.uniform(0.05, 0.4, m)).astype(int),
            "leavers": np.round(head * rng.uniform(0.03, 0.35, m)).astype(int),
        }))
        has_rd = rd_exp > 0
        r = idx[has_rd]
        q = len(r)
        rd.append(pd.DataFrame({
            "uscc": pop["uscc"].to_numpy()[r], "year": y, "rd_expense_wan": rd_exp[has_rd],
            "rd_expense_domestic_wan": np.round(rd_exp[has_rd] * rng.uniform(0.8, 1.0, q), 2),
            "tech_contract_wan": np.where(rng.random(q) < 0.1, np.round(rng.lognormal(4, 1, q), 2), np.nan),
            "rd_center_level": center[r],
            "new_products": np.where(hightech[r], rng.poisson(3, q), rng.poisson(0.3, q)),
        }))
        # 四上 categories by industry and revenue thresholds (规上工业 >= 2000万 ...).
        i_ind = ind[idx]
        cat = np.select(
            [_sw(i_ind, "C") & (rev >= 2000),
             _sw(i_ind, "F51") & (rev >= 2000), _sw(i_ind, "F52") & (rev >= 500),
             _sw(i_ind, "H") & (rev >= 200), _sw(i_ind, "E") & (rev >= 1000),
             _sw(i_ind, "K70") & (rev >= 500),
             _sw(i_ind, ("I", "L", "M", "G", "O", "P", "R", "Q")) & (rev >= 1000)],
            ["规上工业", "限上批发零售", "限上批发零售", "限上住宿餐饮", "资质内建筑业", "房地产开发", "规上服务业"],
            default="非四上")
        keep = (cat != "非四上") | (rng.random(m) < 0.15)
        s = idx[keep]
        ov = np.where(_sw(i_ind[keep], "C"), np.round(rev[keep] * rng.uniform(0.9, 1.15, keep.sum()), 2), np.nan)
        stat.append(pd.DataFrame({
            "uscc": pop["uscc"].to_numpy()[s], "year": y, "stat_category": cat[keep],
            "stat_in_district": rng.random(len(s)) < 0.96,
            "output_value_wan": ov, "added_value_wan": np.round(ov * rng.uniform(0.15, 0.35, len(s)), 2),
            "energy_tce": np.round(ov * rng.uniform(0.002, 0.02, len(s)), 2),
        }))
    return {"tax_annual": pd.concat(tax, ignore_index=True), "social_insurance": pd.concat(social, ignore_index=True),
            "rd_activity": pd.concat(rd, ignore_index=True), "statistics": pd.concat(stat, ignore_index=True)}


def _repeat(rng, pop: pd.DataFrame, lam: np.ndarray) -> np.ndarray:
    """Enterprise row indices repeated by a Poisson count with the given means."""
    return np.repeat(np.arange(len(pop)), rng.poisson(lam))


def _ids(prefix: str, start: int, n: int, width: int = 9) -> np.ndarray:
    return np.char.add(prefix, _zfill(np.arange(start, start + n).astype(str), width))


def events(rng: np.random.Generator, pop: pd.DataFrame, as_of: dt.date, depts: list[Department],
           id_offset: int = 0) -> dict[str, pd.DataFrame]:
    today = _days(as_of)
    ht, srdi, rd_any = (pop[c].to_numpy() for c in ("_hightech", "_srdi", "_rd_any"))
    usccs = pop["uscc"].to_numpy()
    size = pop["_size"].to_numpy()
    ind = pop["industry_code"].to_numpy()
    reg = pop["reg_date"].to_numpy().astype("datetime64[D]")

    # -- IP: 高企-like firms hold many patents; software firms mostly 软件著作权.
    lam = np.where(srdi, 14, np.where(ht, 7, np.where(rd_any, 0.8, 0.04))) * (1 + size * 0.8)
    e = _repeat(rng, pop, lam)
    m = len(e)
    soft = _sw(ind[e], "I")
    types = np.array(["发明专利", "实用新型", "外观设计", "软件著作权", "商标", "集成电路布图设计"])
    t = np.where(soft, rng.choice(6, m, p=[0.12, 0.03, 0.02, 0.7, 0.12, 0.01]),
                 rng.choice(6, m, p=[0.28, 0.38, 0.12, 0.1, 0.11, 0.01]))
    apply = today - rng.integers(30, 8 * 365, m)
    apply = np.maximum(apply, reg[e] + 1)
    lag = np.array([700, 250, 180, 60, 300, 150])[t] * rng.uniform(0.6, 1.6, m)
    grant = apply + lag.astype(int)
    pending = grant > today
    status = np.where(pending, "申请中", np.where(rng.random(m) < 0.85, "有效", "失效"))
    year = apply.astype("datetime64[Y]").astype(int) + 1970
    serial = _zfill(np.arange(id_offset, id_offset + m).astype(str), 7)
    kind_no = np.array(["1", "2", "3", "", "", ""])[t]
    ip_id = np.select(
        [t <= 2, t == 3, t == 4],
        [np.char.add(np.char.add(np.char.add(np.char.add("ZL", year.astype(str)), kind_no), serial), ".X"),
         np.char.add(np.char.add(year.astype(str), "SR"), serial),
         np.char.add("TM", serial)],
        default=np.char.add(np.char.add("BS", year.astype(str)), serial))
    ip = pd.DataFrame({"ip_id": ip_id, "uscc": usccs[e], "ip_type": types[t], "apply_date": apply,
                       "grant_date": np.where(pending, np.datetime64("NaT"), grant), "status": status,
                       "is_pct": np.where(t == 0, rng.random(m) < 0.06, np.where(t <= 2, False, None))})

    # -- credit records
    rtypes = ["行政处罚", "失信被执行人", "经营异常名录", "严重违法失信", "守信激励", "行政许可"]
    rp = np.array([0.06, 0.006, 0.04, 0.002, 0.02, 0.08])
    rows = []
    for k, rt in enumerate(rtypes):
        idx = np.flatnonzero(rng.random(len(pop)) < rp[k] * (1 + 0.5 * size))
        rows.append(pd.DataFrame({"e": idx, "record_type": rt}))
    c = pd.concat(rows, ignore_index=True)
    c = c.iloc[rng.permutation(len(c))].reset_index(drop=True)
    m = len(c)
    neg = c["record_type"].isin(["行政处罚", "失信被执行人", "经营异常名录", "严重违法失信"]).to_numpy()
    ddate = today - rng.integers(1, 3 * 365, m)
    ddate = np.maximum(ddate, reg[c["e"]] + 1)
    issuers = np.array([vocab.CREDIT_ISSUERS[rt][k % len(vocab.CREDIT_ISSUERS[rt])]
                        for rt, k in zip(c["record_type"], rng.integers(0, 10, m))], dtype=object) if m else np.array([], object)
    repaired = neg & (rng.random(m) < 0.4)
    rep_date = ddate + rng.integers(30, 400, m)
    sev = np.where(c["record_type"].to_numpy() == "严重违法失信", "严重",
                   np.where(neg, _pick(rng, ["轻微", "一般", "严重"], m, [0.5, 0.42, 0.08]), ""))
    credit = pd.DataFrame({
        "record_id": _ids("XY", id_offset, m), "uscc": usccs[c["e"]], "record_type": c["record_type"].to_numpy(),
        "decision_date": ddate, "severity": sev,
        "amount_wan": np.where(c["record_type"].to_numpy() == "行政处罚", np.round(rng.lognormal(0, 1.2, m), 2), np.nan),
        "issuer": issuers,
        "repaired_date": np.where(repaired & (rep_date <= today), rep_date, np.datetime64("NaT")),
    })

    # -- financing: venture rounds for tech firms, bank loans for others.
    lam = np.where(srdi, 0.8, np.where(ht, 0.35, 0.01 + 0.02 * (size >= 1)))
    e = _repeat(rng, pop, lam)
    m = len(e)
    tech = ht[e]
    rnd = np.where(tech, _pick(rng, ["天使轮", "A轮", "B轮", "C轮", "Pre-IPO", "银行贷款", "债券"], m,
                                [0.2, 0.25, 0.15, 0.07, 0.03, 0.27, 0.03]),
                   _pick(rng, ["银行贷款", "天使轮", "债券"], m, [0.9, 0.07, 0.03]))
    amt = np.round(rng.lognormal(np.log(np.select([rnd == "天使轮", rnd == "A轮", rnd == "B轮", rnd == "C轮",
                                                   rnd == "Pre-IPO", rnd == "债券"],
                                                  [300, 2000, 8000, 20000, 40000, 30000], default=500)), 0.6), 2)
    inv = np.where(rnd == "银行贷款", "银行", _pick(rng, ["政府引导基金", "风险投资", "产业资本", "其他"], m, [0.15, 0.55, 0.2, 0.1]))
    fin = pd.DataFrame({"event_id": _ids("RZ", id_offset, m), "uscc": usccs[e],
                        "event_date": np.maximum(today - rng.integers(1, 4 * 365, m), reg[e] + 1),
                        "round": rnd, "amount_wan": amt, "investor_type": inv})

    # -- subsidies from the departments that issue policies
    issuers_d = [d.code for d in depts if d.issues_policies]
    lam = np.where(srdi, 1.5, np.where(ht, 0.8, np.where(rd_any, 0.12, 0.02)))
    e = _repeat(rng, pop, lam)
    m = len(e)
    dcode = np.where(ht[e] & (rng.random(m) < 0.6), _pick(rng, ["KCJ", "GXJ"], m),
                     _pick(rng, issuers_d, m))
    adate = today - rng.integers(1, 3 * 365, m)
    ay = adate.astype("datetime64[Y]").astype(int) + 1970
    sub = pd.DataFrame({
        "award_id": _ids("ZZ", id_offset, m), "uscc": usccs[e],
        "policy_code": np.char.add(np.char.add(np.char.add(np.char.add("BA-", dcode), "-"), ay.astype(str)),
                                   np.char.add("-", _zfill(rng.integers(1, 25, m).astype(str), 2))),
        "dept_code": dcode, "award_date": adate,
        "amount_wan": np.round(np.minimum(rng.lognormal(np.log(30), 1.0, m), 3000), 2)})

    # -- industrial space: most factories lease 厂房; offices for services.
    manuf = pop["_manuf"].to_numpy()
    lease = rng.random(len(pop)) < np.where(manuf, 0.65, 0.12)
    e = np.flatnonzero(lease)
    m = len(e)
    stype = np.where(manuf[e], _pick(rng, ["厂房", "研发用房", "仓储"], m, [0.8, 0.12, 0.08]),
                     _pick(rng, ["写字楼", "研发用房", "仓储"], m, [0.75, 0.15, 0.1]))
    park = np.where(rng.random(m) < 0.5, np.char.add(pop["_stem"].to_numpy()[e].astype(str), "工业园"),
                    _pick(rng, ["宝安智谷科技创新园", "F518时尚创意园", "宝安互联网产业基地", "桃花源科技创新园",
                                "华丰科技园", "中粮福安机器人智造产业园", "宝星智荟城", "石岩智能制造产业园"], m))
    start = today - rng.integers(1, 5 * 365, m)
    space = pd.DataFrame({
        "lease_id": _ids("HT", id_offset, m), "uscc": usccs[e], "park_name": park, "space_type": stype,
        "area_sqm": np.round(np.exp(rng.normal(np.log([300, 1500, 6000, 20000])[size[e]], 0.5)), 1),
        "monthly_rent_yuan_sqm": np.round(np.where(stype == "写字楼", rng.uniform(60, 150, m), rng.uniform(25, 70, m)), 1),
        "is_owned": rng.random(m) < 0.05,
        "start_date": start, "end_date": start + rng.integers(3, 6, m) * 365})
    return {"ip_records": ip, "credit_records": credit, "financing": fin, "subsidies": sub, "industrial_space": space}


def certificates(rng: np.random.Generator, pop: pd.DataFrame, as_of: dt.date, cert_types: list[CertificateType],
                 id_offset: int = 0) -> pd.DataFrame:
    """Holdings correlated with the hidden profile: 高企 mostly among high-R&D firms etc."""
    today = _days(as_of)
    n = len(pop)
    ht, srdi, rd_any, manuf = (pop[c].to_numpy() for c in ("_hightech", "_srdi", "_rd_any", "_manuf"))
    size = pop["_size"].to_numpy()
    ind = pop["industry_code"].to_numpy()
    p = {
        "hnte": np.where(ht, 0.65, np.where(rd_any, 0.03, 0.0)),
        "little_giant": np.where(srdi, 0.12, 0.0),
        "gd_srdi": np.where(srdi, 0.45, np.where(ht, 0.03, 0.0)),
        "sz_srdi": np.where(srdi, 0.65, np.where(ht, 0.06, 0.0)),
        "innovative_sme": np.where(srdi, 0.55, np.where(ht, 0.3, np.where(rd_any, 0.04, 0.0))),
        "tech_sme": np.where(ht, 0.5, np.where(rd_any, 0.15, 0.0)),
        "single_champion": np.where(ht & manuf & (size == 3), 0.08, 0.0),
        "tech_center_city": np.where(ht & (size >= 2), 0.2, 0.0),
        "sz_brand": np.where(size >= 2, 0.03, 0.002),
        "food_license": np.where(_sw(ind, ("H", "F52")), 0.7, 0.0),
        "construction_qual": np.where(_sw(ind, "E"), 0.85, 0.0),
        "safety_license": np.where(_sw(ind, ("E", "C26", "C33")), 0.4, 0.0),
        "pollutant_permit": np.where(manuf, 0.25, 0.0),
        "iso9001": np.where(manuf, 0.35, 0.05),
        "ip_mgmt": np.where(ht, 0.2, 0.01),
        "dual_integration": np.where(manuf & (size >= 2), 0.12, 0.0),
    }
    parts = []
    for ct in cert_types:
        idx = np.flatnonzero(rng.random(n) < p.get(ct.key, np.zeros(n)))
        m = len(idx)
        # Issued within 1.5 validity periods: about a third have expired by now.
        issue = today - rng.integers(10, int(ct.valid_years * 365 * 1.5) + 11, m)
        issue = np.maximum(issue, pop["reg_date"].to_numpy().astype("datetime64[D]")[idx] + 30)
        expiry = (issue.astype("datetime64[D]") + ct.valid_years * 365 - 1)
        revoked = rng.random(m) < 0.01
        status = np.where(revoked, "撤销", np.where(expiry >= today, "有效", "过期"))
        parts.append(pd.DataFrame({"e": idx, "cert_type": ct.name, "issuer": ct.issuer, "key": ct.key,
                                   "issue_date": issue, "expiry_date": expiry, "status": status}))
    c = pd.concat(parts, ignore_index=True).sort_values(["e", "key"], kind="stable").reset_index(drop=True)
    m = len(c)
    year = c["issue_date"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    serial = _zfill(np.arange(id_offset, id_offset + m).astype(str), 7)
    short = {ct.key: "GR" if ct.key == "hnte" else "".join(w[0] for w in ct.key.split("_")).upper() + "Z" for ct in cert_types}
    prefix = c["key"].map(short).to_numpy().astype(str)
    cert_no = np.char.add(np.char.add(np.char.add(prefix, year.astype(str)), "44"), serial)
    return pd.DataFrame({
        "cert_id": _ids("DZZZ", id_offset, m, 10), "uscc": pop["uscc"].to_numpy()[c["e"]], "cert_type": c["cert_type"].to_numpy(),
        "cert_no": cert_no, "issuer": c["issuer"].to_numpy(), "issue_date": c["issue_date"].to_numpy(),
        "expiry_date": c["expiry_date"].to_numpy(), "status": c["status"].to_numpy()})
