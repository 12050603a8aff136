"""run_signals end to end on Spark + Delta: tables, idempotency, lineage."""

import datetime as dt

import pandas as pd
import pytest

from govlake.lineage.emitter import read_events
from govlake.signals.job import SCHEMAS, run_signals
from govlake.signals.synth import synthetic_petitions
from tests.transform.conftest import bronze_df

AS_OF = dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def petitions(divisions):
    p = synthetic_petitions(600, seed=21, start=dt.date(2026, 3, 1), days=31, repeat_share=0.05, bursts=1)
    p = p[[c for c in p.columns if not c.startswith("_")]]
    p.loc[p.index[0], "content"] = "工地老板拖欠工资半年，工友们说要去跳楼"
    return p


def test_run_signals_writes_gold_tables_idempotently(spark, lake, settings, petitions):
    rows = [{k: (None if pd.isna(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v))
             for k, v in r.items()} for r in petitions.to_dict("records")]
    for r in rows:
        r["_load_date"], r["_source_file"], r["_run_id"] = AS_OF, "petitions/x.csv", "run-1"
    lake.write(bronze_df(spark, settings, "petitions", rows), "bronze.petitions", mode="append",
               partition_by=["_load_date"])

    commits = run_signals(spark, lake, AS_OF)
    assert set(commits) == set(SCHEMAS) and all(c.committed for c in commits.values())

    alerts = lake.read("gold.petition_alerts").toPandas()
    first = alerts[alerts["ticket_id"] == petitions["ticket_id"].iloc[0]].iloc[0]
    assert first["severity"] == 4 and {"self_harm", "wage_arrears"} <= set(first["categories"])
    merges = lake.read("gold.petition_merge_groups").toPandas()
    assert len(merges) and (merges.groupby("group_id")["master_ticket_id"].nunique() == 1).all()
    groups = lake.read("gold.group_petition_alerts").toPandas()
    assert len(groups) >= 1 and (groups["requester_count"] >= 5).all()
    topics = lake.read("gold.hot_topics").toPandas()
    assert len(topics) and topics["rank"].min() == 1
    review = lake.read("gold.address_review_queue").toPandas()
    assert 0 < len(review) < 0.25 * len(petitions) and (review["confidence"] < 0.5).all()

    from govlake import release
    rel = release.current(lake)  # the five tables are released together
    assert rel.step == "signals" and {t: rel.tables[t] for t in SCHEMAS} == {t: c.version for t, c in commits.items()}

    again = run_signals(spark, lake, AS_OF)  # same as_of: nothing new is committed
    assert not any(c.committed for c in again.values())
    assert release.current(lake).release_id == rel.release_id
    assert lake.read("gold.petition_alerts").count() == len(alerts)

    ev = [e for e in read_events(settings.lineage_path) if e["job"]["name"] == "petition_signals"]
    done = [e for e in ev if e["eventType"] == "COMPLETE"]
    assert done and {o["facets"]["symlinks"]["identifiers"][0]["name"] for o in done[0]["outputs"]} == set(SCHEMAS)
    assert done[0]["inputs"][0]["facets"]["symlinks"]["identifiers"][0]["name"] == "bronze.petitions"
