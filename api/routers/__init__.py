"""Every router of /api/v1, in the order they appear in the OpenAPI document."""

from fastapi import APIRouter

from api.routers import admin

ROUTERS: list[APIRouter] = [admin.router]
