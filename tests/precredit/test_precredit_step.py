"""The pipeline's `precredit` step (govlake.pipeline.step_precredit through run_step, as `make
run` calls it) over a small profile committed by delta-rs: it trains and publishes a model when
none has the current recipe, scores the release, and a re-run trains nothing; afterwards
GET /enterprises/{uscc}/pre-credit answers without any manual `govlake precredit train`."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from deltalake import write_deltalake
from fastapi.testclient import TestClient

from govlake import access
from govlake.lakehouse import Lakehouse
from govlake.pipeline import STEPS, UPSTREAM, StepContext, run_step
from govlake.precredit import model as M
from govlake.precredit import outcomes, refresh

N_PROFILE = 60
DAY = dt.date(2026, 12, 1)


def _profile():
    return outcomes.generate_loans(N_PROFILE, 33).drop(["true_pd", "defaulted"])


@pytest.fixture
def profile_lake(settings) -> Lakehouse:
    lk = Lakehouse(None, settings)
    write_deltalake(str(lk.path("gold.enterprise_profile")), _profile(), mode="append")
    return lk


def _step(settings) -> dict:
    ctx = StepContext(settings=settings, load_date=DAY, scale=N_PROFILE)
    run_step("precredit", ctx)
    return ctx.results["precredit"]


def test_step_trains_once_scores_and_the_route_answers(settings, profile_lake, store, grant):
    assert M.published_version(settings) is None
    t0 = time.perf_counter()
    first = _step(settings)
    assert time.perf_counter() - t0 < 30
    res = first["result"]
    assert res["model"]["trained"] is True and res["model"]["version"] == M.published_version(settings)
    assert res["scored"]["enterprises"] == N_PROFILE and res["scored"]["profile_version"] == 0
    assert 0 < res["scored"]["with_line"] <= N_PROFILE
    saved = json.loads((M.models_root(settings) / refresh.SCORED).read_text(encoding="utf-8"))
    assert saved["model_version"] == res["model"]["version"]
    meta = json.loads((M.models_root(settings) / res["model"]["version"] / M.META_FILE).read_text(encoding="utf-8"))
    assert meta["recipe_fingerprint"] == refresh.fingerprint() and meta["training_data"]["n"] == refresh.TRAIN_N

    # a re-run of the day trains nothing new: same version, no new version directory
    versions = sorted(p.name for p in M.models_root(settings).iterdir() if p.is_dir())
    again = _step(settings)["result"]
    assert again["model"] == {"trained": False, "version": res["model"]["version"], "fingerprint": refresh.fingerprint()}
    assert sorted(p.name for p in M.models_root(settings).iterdir() if p.is_dir()) == versions
    assert again["scored"]["enterprises"] == N_PROFILE

    # the route answers from the published model
    from govlake.api.app import create_app

    access.add_consumer(store, "fin_office", "金融服务", "GXJ", by="admin")
    grant("fin_office", "gold.enterprise_profile", "测试：预授信测算")
    token = access.issue_key(store, "fin_office", by="admin").token
    uscc = _profile().column("uscc")[0].as_py()
    r = TestClient(create_app(settings)).get(f"/enterprises/{uscc}/pre-credit",
                                             headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == res["model"]["version"] and r.json()["profile_version"] == 0


def test_a_changed_recipe_trains_and_a_profile_without_inputs_is_named(settings, profile_lake):
    small = refresh.ensure_model(settings, n=3000)
    assert small["trained"] is True
    assert refresh.ensure_model(settings, n=3000)["trained"] is False
    assert refresh.fingerprint(3000) != refresh.fingerprint()   # the default recipe differs: it would train
    write_deltalake(str(profile_lake.path("gold.enterprise_profile")),
                    _profile().drop(["financing_bank_loan_2y_wan"]), mode="overwrite", schema_mode="overwrite")
    with pytest.raises(KeyError, match="financing_bank_loan_2y_wan"):
        refresh.score_release(settings, profile_lake)


def test_step_is_wired_after_transform_and_before_maintain():
    names = list(STEPS)
    assert names.index("transform") < names.index("precredit") < names.index("maintain")
    assert UPSTREAM["precredit"] == ("transform",) and "precredit" in UPSTREAM["maintain"]
