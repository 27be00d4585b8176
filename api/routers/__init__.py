"""Every router of /api/v1, in the order they appear in the OpenAPI document."""

from fastapi import APIRouter

from api.routers import (
    admin,
    audit,
    catalog,
    compliance,
    corrective_actions,
    export,
    gaps,
    governance,
    measurements,
    notifications,
    periods,
    proposals,
    slas,
    tasks,
    versions,
)

ROUTERS: list[APIRouter] = [
    admin.router,
    slas.router,
    versions.router,
    gaps.router,
    tasks.router,
    audit.router,
    export.router,
    notifications.router,
    catalog.router,
    measurements.router,
    compliance.router,
    periods.router,
    proposals.router,
    governance.router,
    corrective_actions.router,
]
