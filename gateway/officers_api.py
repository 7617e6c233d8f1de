"""The officers' JSON API, for the CRM Petugas phone app: ``/staff/api/...`` routes that
take an API token (``auth.require_token``) instead of the staff pages' session cookie,
and are documented in the OpenAPI schema under the tag ``officers``
(docs/officers_api.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core import units
from core.staff import Staff
from gateway import auth
from gateway.staff_pages import NO_STORE

router = APIRouter(tags=["officers"])
# the answers of the guard, for a route's ``responses``: TOKEN_ERRORS where roles are named
UNAUTHORIZED = {
    401: {"description": "missing_token or invalid_token (with WWW-Authenticate: Bearer)"}}
TOKEN_ERRORS = {
    **UNAUTHORIZED, 403: {"description": "forbidden: the account's role may not do this"}}


class UnitOut(BaseModel):
    id: str
    name: str
    kind: str


class Me(BaseModel):
    username: str
    role: str
    unit: UnitOut | None


@router.get("/staff/api/me", response_model=Me, responses=UNAUTHORIZED,
            summary="The account the token belongs to")
async def me(request: Request, account: Staff = auth.require_token()) -> JSONResponse:
    """The token's account, its role and its unit (null for an account without one): what
    the app shows as signed in, and a check that a token works."""
    def load():
        with request.app.state.kanal.engine.connect() as conn:
            return units.unit(conn, account.unit_id) if account.unit_id else None

    unit = await run_in_threadpool(load)
    return JSONResponse({
        "username": account.username, "role": account.role,
        "unit": {"id": unit.id, "name": unit.name, "kind": unit.kind} if unit else None,
    }, headers=NO_STORE)
