"""POST /policy-qa: 政策问答 over HTTP. Any valid key may ask; asking about an enterprise's own
result (uscc given) needs a grant on gold.policy_matches, as reading its matches does."""

from __future__ import annotations

import datetime as dt
import threading

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from govlake.api.audit_middleware import audit_event
from govlake.api.deps import bearer, caller, errors, grant_for, product_or_404
from govlake.lakehouse import Lakehouse
from govlake.policy_qa.answer import ask

router = APIRouter(tags=["政策问答 policy Q&A"])
MATCHES = "gold.policy_matches"
_engines: dict[tuple, object] = {}
_lock = threading.Lock()



_ERRORS = {
    401: "no valid API key (未认证)",
    403: "no grant on gold.policy_matches for an enterprise's own result (无权限)",
    404: "unknown enterprise or product (不存在)",
    422: "empty or too long question, malformed uscc (参数错误)",
}


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=500, description="企业的问题（中文）")
    uscc: str | None = Field(None, pattern=r"^[0-9A-Za-z]{18}$", description="统一社会信用代码：附本企业逐条结果")
    as_of: dt.date | None = Field(None, description="评估日期（默认今天）")


def _engine(settings):
    """One evaluator per lake and catalog in this process (it keeps the profile snapshot)."""
    from govlake.policy.evaluate import PolicyEngine

    key = (str(settings.catalog_dir), str(settings.tables_dir))
    with _lock:
        if key not in _engines:
            _engines[key] = PolicyEngine.from_catalog(settings.catalog_dir, Lakehouse(None, settings))
        return _engines[key]


@router.post("/policy-qa", responses=errors(_ERRORS))
def policy_qa(request: Request, body: Question, cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
    """政策问答: the policies a question concerns with their articles quoted; with uscc, the
    enterprise's own result clause by clause (online evaluator)."""
    consumer = caller(request, cred)
    settings = request.app.state.settings
    engine = None
    if body.uscc is not None:
        grant_for(request, product_or_404(request, MATCHES), consumer)
        engine = _engine(settings)
    if not body.question.strip():
        raise HTTPException(422, "a question is required (请输入问题)")
    try:
        out = ask(body.question, settings.catalog_dir, uscc=body.uscc, engine=engine, as_of=body.as_of)
    except (KeyError, FileNotFoundError) as e:
        raise HTTPException(404, str(e).strip("'\""))
    audit_event(request).rows = len(out["policies"])
    return out
