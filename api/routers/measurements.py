"""Measurements: a JSON batch, or a CSV file streamed from the request body.

Neither endpoint takes an Idempotency-Key: the data is idempotent by itself (the same
(metric, observed_at) is stored once), and a CSV body is never held in memory, so it cannot be
hashed up front. Sending the same upload again answers with its rows counted as duplicates.

A CSV body is spooled to disk whole before its first row is stored: a body over the size limit
(refused by `api.limits` as it arrives) or cut short by the client stores nothing at all,
where importing as it arrived would have kept the chunks before the cut.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import IO, Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.commands.measurements import IngestReport
from workflow.errors import InvalidInput
from workflow.measurements import csv_rows, json_rows
from workflow.measurements.rules import parse_time
from workflow.queries.corrections import ObservationHistory, observation_history
from workflow.queries.proposals import ProposalView, proposal_detail

router = APIRouter(tags=["measurements"])

# At most this many rejected rows are listed in an answer; `more_errors` counts the rest.
ERRORS_SHOWN = 1000
# A CSV body up to this size is spooled in memory, a bigger one on disk.
SPOOL_IN_MEMORY = 4 * 1024 * 1024
_READ = 64 * 1024
_CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/octet-stream"})
_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "CSV, UTF-8, header `metric,observed_at,value[,weight]`; streamed.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


class MeasurementBatchIn(BaseModel):
    observations: Annotated[list[Any], Field(max_length=100_000)]


class RowError(BaseModel):
    line: int = Field(description="CSV line (the header is line 1) or JSON array index")
    metric: str | None = None
    reason: str


class IngestResult(BaseModel):
    batch_id: int
    accepted: int
    duplicates: int
    rejected: int
    errors: list[RowError]
    more_errors: int = Field(description="rejected rows not listed in `errors`")
    complete: bool


def _result(report: IngestReport) -> IngestResult:
    shown = report.errors[:ERRORS_SHOWN]
    return IngestResult(
        batch_id=report.batch_id,
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=report.rejected,
        errors=[RowError(line=e.line, metric=e.metric, reason=e.reason) for e in shown],
        more_errors=report.rejected - len(shown),
        complete=report.complete,
    )


@router.post(
    "/slas/{sla_id}/measurements",
    status_code=status.HTTP_202_ACCEPTED,
)
def post_measurements(
    sla_id: Id,
    body: MeasurementBatchIn,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
) -> IngestResult:
    """Record a batch of observations; each rejected one comes back with its index and
    reason, and the others are stored all the same."""
    report = commands.import_measurements(
        session,
        actor=actor,
        agreement_id=sla_id,
        rows=json_rows(body.observations),
        source="json",
        now=now,
        error_limit=ERRORS_SHOWN,
    )
    return _result(report)


class CorrectionIn(Strict):
    metric: Annotated[str, Field(min_length=1, max_length=80)]
    observed_at: Annotated[
        str, Field(min_length=1, max_length=64, description="RFC 3339 with an offset")
    ]
    value: float
    reason: Annotated[str, Field(min_length=1, max_length=4000)]


class CorrectionsIn(Strict):
    corrections: Annotated[list[CorrectionIn], Field(min_length=1, max_length=1000)]


class CorrectionsResult(BaseModel):
    applied: int = Field(description="observations corrected now")
    proposed: int = Field(description="corrections of final reports, waiting as proposals")
    proposals: list[ProposalView] = Field(description="the amendment proposals made")


@router.post(
    "/slas/{sla_id}/measurements/corrections",
    dependencies=[IdempotencyDep],
    responses={
        202: {"description": "corrections of final reports, proposed to the other side"},
        409: {"description": "a period under review, or final and open periods mixed"},
    },
)
@idempotent
def post_corrections(
    sla_id: Id,
    body: CorrectionsIn,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
) -> Any:
    """Correct observations, each with a reason, keeping every old value. 200 when applied
    (the period open or disputed, or not opened yet); 202 when the period is final (an
    `amendment` proposal per period, applied once the other side accepts); 409 while the
    period is under review; 422 naming each unknown observation (nothing written). The
    provider, or the side that provides the metric's data."""
    outcome = commands.correct_observations(
        session,
        actor=actor,
        agreement_id=sla_id,
        corrections=[
            commands.CorrectionInput(c.metric, c.observed_at, c.value, c.reason)
            for c in body.corrections
        ],
        now=now,
    )
    result = CorrectionsResult(
        applied=outcome.applied,
        proposed=outcome.proposed,
        proposals=[proposal_detail(session, actor, p.id or 0) for p in outcome.proposals],
    )
    code = status.HTTP_202_ACCEPTED if outcome.proposals else status.HTTP_200_OK
    return JSONResponse(jsonable_encoder(result), status_code=code)


@router.get("/slas/{sla_id}/measurements/history")
def get_observation_history(
    sla_id: Id,
    session: SessionDep,
    actor: ActorDep,
    metric: Annotated[str, Query(min_length=1, max_length=80)],
    observed_at: Annotated[str, Query(min_length=1, max_length=64, description="RFC 3339")],
) -> ObservationHistory:
    """Every value the observation has had: the first, then each correction (who, when,
    why). 404 when the agreement has no such observation."""
    moment = parse_time(observed_at)
    if isinstance(moment, str):
        raise InvalidInput(moment, [{"field": "observed_at", "message": moment}])
    return observation_history(session, actor, sla_id, metric, moment)


class _BodyStream(io.RawIOBase):
    """The request body as a blocking byte stream, for code running in a worker thread.

    Each read pulls the next chunk from Starlette's `request.stream()` on the event loop,
    so at most one network chunk is held here at a time.
    """

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self._done = False
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    async def _next_chunk(self) -> bytes:
        return await self._chunks.__anext__()

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            try:
                self._pending = anyio.from_thread.run(self._next_chunk)
            except StopAsyncIteration:
                self._done = True
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.bytes_read += size
        return size


@router.post(
    "/slas/{sla_id}/measurements:csv",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_CSV_BODY,
    response_model=IngestResult,
)
def post_measurements_csv(
    sla_id: Id,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
) -> Response | IngestResult:
    """Record the rows of a CSV file of any size up to ACCORD_MAX_UPLOAD_BYTES. The body is
    received whole (spooled to disk) before any row is stored: a bigger one is 413 and stores
    nothing. Rows are then written in chunks that each commit: a database failure midway keeps
    the chunks before it (the answer of a complete import says `complete: true`)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in _CSV_TYPES:
        raise HTTPException(415, f"send the file as text/csv, not {content_type}")
    # Refuse a non-party (404) or a role that may not upload (403) before reading the body.
    commands.check_upload(session, actor=actor, agreement_id=sla_id, now=now)
    with _spooled(request) as spool:
        report = commands.import_measurements(
            session,
            actor=actor,
            agreement_id=sla_id,
            rows=csv_rows(spool),
            source="csv",
            now=now,
            filename=request.headers.get("x-filename"),
            error_limit=ERRORS_SHOWN,
        )
    return _result(report)


@contextmanager
def _spooled(request: Request) -> Iterator[IO[bytes]]:
    """The whole request body, in a temporary file (in memory up to `SPOOL_IN_MEMORY`)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        body = io.BufferedReader(_BodyStream(request.stream()), buffer_size=_READ)
        shutil.copyfileobj(body, spool, _READ)
        spool.seek(0)
        yield spool
