"""Batch replay of 退单 / 快速裁决: the rows that bring gold.petition_dispatch in line with the online
state (handling_events.ticket_state) of every ticket whose recorded events changed its departments.

退单 and 快速裁决 happen online (ops.petition_dispatch_events) after the batch step wrote a ticket's
dispatch. The next dispatch step adds, in its own date's partition, the ticket's departments as the
events left them (`dispatch_kind = replay`, 退单重放): the lead is the re-dispatch's lead or the
arbitration's department, never a department that returned the ticket; the assisting departments
are the event's; the remaining ranks are the day's model and catalog blend without the returning
departments. A ticket's latest partition is its current dispatch, so the table and the online
state agree. The model's own rows (`dispatch_kind = model`) stay as they were: dispatch agreement
(dispatch_agreement.py) measures those, never a replayed (decided) department.
"""

from __future__ import annotations

import pandas as pd

from govlake.petitions.handling_events import events, latest_dispatch_rows, role_of, state_from, ticket_texts
from govlake.petitions.handling_roles import ROLE_LABELS

MODEL, REPLAY = "model", "replay"
COLUMNS = ["ticket_id", "rank", "dept_code", "dept_name", "probability", "reason", "role", "role_label",
           "role_reason", "model_version", "dispatch_kind", "dispatched_at"]


def _agrees(rows: list[dict], st) -> bool:
    lead = [r["dept_code"] for r in rows if role_of(r) == "lead"]
    assist = sorted(r["dept_code"] for r in rows if role_of(r) == "assist")
    return lead == [st.lead] and assist == sorted(st.assisting)


def _why(st) -> str:
    returned = "、".join(st.returned_by)
    if st.decided:
        e = [e for e in st.events if e["kind"] == "arbitration_decided"][-1]
        return f"快速裁决：{e['actor']} 裁定由 {st.decided} 承办" + (f"（{e['reason']}）" if e.get("reason") else "")
    if st.arbitration_deadline:
        return f"{returned} 退单，快速裁决中（时限 {st.arbitration_deadline}），暂由 {st.lead} 主办"
    return f"{returned} 退单后重新分拨"


def replay_frame(lake, model, *, k: int, signals: dict | None, names: dict[str, str],
                 skip: set[str] = frozenset()) -> pd.DataFrame:
    """The replay rows (COLUMNS) of every ticket with recorded events whose latest dispatch rows
    disagree with its state; `skip`: tickets scored anew in the same write. A ticket already
    replayed agrees, so a later run adds nothing for it until a new event changes it."""
    from govlake.petitions.scoring import score_texts

    # one scan each of the events, the dispatch rows and the texts, for every ticket at once
    by_ticket: dict[str, list[dict]] = {}
    for e in events(lake):
        by_ticket.setdefault(e["ticket_id"], []).append(e)
    ids = sorted(set(by_ticket) - set(skip))
    dispatched = latest_dispatch_rows(lake, ids)
    todo = []
    for tid in ids:
        rows = dispatched.get(tid)
        if not rows:
            continue
        st = state_from(tid, rows, by_ticket[tid])
        if not _agrees(rows, st):
            todo.append(st)
    texts = ticket_texts(lake, [st.ticket_id for st in todo])
    out = []
    for st in todo:
        tid = st.ticket_id
        text, address = texts[tid]
        recs = score_texts(model, [text], addresses=[address], k=len(model.classes) + 8, signals=signals,
                           exclude=[d for d in st.returned_by if d not in (st.lead, *st.assisting)])[0]
        by_code = {r.dept_code: r for r in recs}
        chosen = [st.lead] + [a for a in st.assisting if a != st.lead]
        rest = [r.dept_code for r in recs if r.dept_code not in chosen and r.dept_code not in st.returned_by]
        codes = (chosen + rest)[:max(k, len(chosen))]
        why = _why(st)
        for rank, code in enumerate(codes, 1):
            rec = by_code.get(code)
            role = "lead" if rank == 1 else ("assist" if code in st.assisting else "candidate")
            out.append({
                "ticket_id": tid, "rank": rank, "dept_code": code,
                "dept_name": names.get(code) or (rec.dept_name if rec else code),
                "probability": float(rec.probability) if rec else 0.0,
                "reason": rec.reason if rec else why,
                "role": role, "role_label": ROLE_LABELS[role],
                "role_reason": why if role != "candidate" else "",
                "model_version": model.meta.get("version", "unknown"), "dispatch_kind": REPLAY,
                "dispatched_at": st.sent_at,
            })
    frame = pd.DataFrame(out, columns=COLUMNS)
    frame["rank"] = frame["rank"].astype("int32")
    frame["probability"] = frame["probability"].astype("float64")
    return frame
