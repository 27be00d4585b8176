"""The period page's excusal form: excusing a miss is proposed to the other side, with the
command of `POST /api/v1/slas/{id}/excusals`; it counts only once they accept it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.render import Flash, redirect
from api.pages.session import PageUserDep
from api.types import Id
from workflow import commands
from workflow.commands.excusals import WINDOW_LABEL
from workflow.errors import Conflict, Forbidden, InvalidInput
from workflow.queries.agreements import visible_agreement

router = APIRouter()

PeriodLabel = Annotated[str, Path(pattern=WINDOW_LABEL.pattern)]
Short = Annotated[str, Form(max_length=80)]
Text = Annotated[str, Form(max_length=4000)]


@router.post("/slas/{agreement_id}/periods/{period}/excusals")
def propose_excusal(
    agreement_id: Id,
    period: PeriodLabel,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    metric: Short = "",
    window: Short = "",
    party: Short = "",
    reason: Text = "",
) -> Response:
    """Propose an excusal (Program Manager or Business Owner); the proposal's page follows."""
    visible_agreement(session, user.actor, agreement_id)  # 404 to strangers, before anything
    back = f"/slas/{agreement_id}/periods/{period}"
    try:
        proposal = commands.excuse_miss(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            metric=metric,
            window=window.strip() or period,
            party=party,
            reason=reason,
            now=now,
        )
    except InvalidInput as exc:
        named = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        return redirect(f"{back}#excuse", flash=Flash("error", f"Not proposed: {named}."))
    except (Conflict, Forbidden) as exc:
        return redirect(f"{back}#excuse", flash=Flash("error", f"Not proposed: {exc.message}"))
    return redirect(
        f"/proposals/{proposal.id}",
        flash=Flash(
            "success",
            f"You proposed to excuse {metric} in {window.strip() or period}; it counts once the "
            "other side accepts it.",
        ),
    )
