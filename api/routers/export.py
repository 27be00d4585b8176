"""A version as a YAML document: export it, or import one into a draft."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.preconditions import etag, expected_lock_version
from api.types import Id, LockVersion
from workflow import commands
from workflow.access import require_party
from workflow.export import MEDIA_TYPE, export_version, parse_document, to_yaml
from workflow.models import Agreement
from workflow.permissions import version_by_number
from workflow.queries.evidence import evidence_document, evidence_pack

router = APIRouter(tags=["versions"])

# JSON is YAML too; a body without a type, or sent as text/plain, is read as YAML.
_ACCEPTED_TYPES = frozenset(
    {
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml",
        "text/plain",
        "application/json",
    }
)

_YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A document in the shape of the export; only terms and metrics are read.",
        "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


class ImportedVersion(BaseModel):
    id: int
    key: str
    number: int
    modification_number: int
    state: str
    lock_version: int
    content_hash: str


@router.get(
    "/slas/{sla_id}/versions/{number}/export",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
def export_yaml(sla_id: Id, number: Id, session: SessionDep, actor: ActorDep) -> Response:
    """The version as YAML in the shape of example-sla.yaml, plus identification keys."""
    agreement = require_party(session.get(Agreement, sla_id), actor)
    version = version_by_number(session, agreement, number)
    text = to_yaml(export_version(session, agreement, version))
    return Response(
        text,
        media_type=MEDIA_TYPE,
        headers={
            "ETag": etag(version.lock_version),
            "Content-Disposition": f'attachment; filename="{agreement.key}-v{number}.yaml"',
        },
    )


@router.get("/slas/{sla_id}/versions/{number}/evidence", tags=["audit"])
def get_evidence(
    sla_id: Id, number: Id, session: SessionDep, actor: ActorDep, now: NowDep
) -> dict[str, Any]:
    """The version's evidence pack: the approved content, each approval (who, when, on which
    content hash), the agreement chain's verification and the version's audit events. The
    parties' people and auditors of the agreement may read it."""
    return evidence_document(evidence_pack(session, actor, sla_id, number, now=now))


async def yaml_body(request: Request) -> bytes:
    """The raw body; an async dependency so that the endpoint itself stays a plain `def`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in _ACCEPTED_TYPES:
        raise HTTPException(415, f"send the document as {MEDIA_TYPE}, not {content_type}")
    return await request.body()


@router.post(
    "/slas/{sla_id}/versions/{number}/import",
    dependencies=[IdempotencyDep],
    openapi_extra=_YAML_BODY,
)
@idempotent
def import_yaml(
    sla_id: Id,
    number: Id,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    response: Response,
    body: Annotated[bytes, Depends(yaml_body)],
    if_match: Annotated[str | None, Header()] = None,
    lock_version: Annotated[LockVersion | None, Query()] = None,
) -> ImportedVersion:
    """Replace a draft's terms and metrics with those of a YAML document. Send the
    lock_version you read as `If-Match` (the version's ETag) or `?lock_version=`."""
    expected = expected_lock_version(lock_version, if_match, required=True)
    assert expected is not None  # required=True refuses a missing one with 428
    document = parse_document(body)
    version = commands.import_version(
        session,
        actor=actor,
        agreement_id=sla_id,
        number=number,
        expected_lock_version=expected,
        document=document,
        now=now,
    )
    agreement = session.get(Agreement, sla_id)
    assert agreement is not None
    assert agreement.id is not None
    response.headers["ETag"] = etag(version.lock_version)
    return ImportedVersion(
        id=agreement.id,
        key=agreement.key,
        number=version.number,
        modification_number=version.modification_number,
        state=version.state,
        lock_version=version.lock_version,
        content_hash=version.content_hash,
    )
