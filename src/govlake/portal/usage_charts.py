"""使用监测 (usage monitoring) from audit rows (govlake.access.query_audit): requests and rows
served per product and per consumer, reads per day, refusals beside. Only data requests count
(the API's `GET /…`/`POST /…` rows and the portal's `portal.read`), not decisions such as
application.approve; the caller has already kept the rows the account may see."""

from __future__ import annotations

from collections import Counter, defaultdict

from govlake.portal.svg_charts import bar_chart, line_chart


REQUESTS = ("GET ", "POST ", "portal.read")


def is_request(row: dict) -> bool:
    return str(row.get("action") or "").startswith(REQUESTS)


def usage_report(rows: list[dict]) -> dict:
    requests = [r for r in rows if is_request(r)]
    allowed = [r for r in requests if r.get("outcome") == "allowed"]
    denied = [r for r in requests if r.get("outcome") == "denied"]
    by_product, rows_product = Counter(), Counter()
    by_consumer, rows_consumer = Counter(), Counter()
    per_day = defaultdict(Counter)
    for r in allowed:
        who = r.get("actor") or "-"
        by_product[r["product"]] += 1
        rows_product[r["product"]] += r.get("rows") or 0
        by_consumer[who] += 1
        rows_consumer[who] += r.get("rows") or 0
        per_day["成功请求"][r["ts"][:10]] += 1
    for r in denied:
        per_day["拒绝请求"][r["ts"][:10]] += 1
    days = sorted({d for c in per_day.values() for d in c})
    series = {name: [(d, float(c.get(d, 0))) for d in days] for name, c in per_day.items()}
    return {
        "n_allowed": len(allowed), "n_denied": len(denied),
        "product_svg": bar_chart([(p, n) for p, n in by_product.most_common(15)], title="各数据产品请求次数"),
        "product_rows_svg": bar_chart([(p, rows_product[p]) for p, _ in by_product.most_common(15)],
                                      title="各数据产品返回行数"),
        "consumer_svg": bar_chart([(c, n) for c, n in by_consumer.most_common(15)], title="各调用方请求次数"),
        "consumer_rows_svg": bar_chart([(c, rows_consumer[c]) for c, _ in by_consumer.most_common(15)],
                                       title="各调用方返回行数"),
        "daily_svg": line_chart(series, title="每日请求"),
    }
