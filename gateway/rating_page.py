"""``/nilai/{tracking_id}?t=<token>``: the rating link of email, web and walk-in reporters.

The token (``core.rating.rating_token``) stands for the reporter: whoever holds the link
sent to them may rate, once, after the report is ``Selesai``. A plain form, no JavaScript
and no CSRF cookie: a forged post needs the token, which is the point of the link."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from core import rating, tracking
from core.cases import SELESAI
from core.db import writing
from core.uploads import read_form

router = APIRouter(include_in_schema=False)


def _check(request: Request, tracking_id: str, token: str | None):
    """(compact id, None) when the link is good, else (None, the error page)."""
    kanal = request.app.state.kanal
    try:
        compact = tracking.normalize(tracking_id)
    except tracking.InvalidTrackingID:
        return None, _page(request, "invalid", tracking_id, status_code=404)
    if not rating.token_matches(kanal.rating_prompts.secret, compact, token):
        return None, _page(request, "bad_token", tracking.display(compact), status_code=403)
    return compact, None


def _page(request: Request, state: str, shown: str, *, status_code: int = 200,
          **context) -> Response:
    context = {"state": state, "tracking_id": shown, "token": "", "score": None,
               "comment": "", "status": None, "reopened": False, **context}
    return request.app.state.kanal.render(request, "nilai.html", context,
                                          status_code=status_code)


def _refusal(request: Request, shown: str, row, token: str) -> Response | None:
    if row is None:
        return _page(request, "not_found", shown, status_code=404)
    if row.rating is not None:
        return _page(request, "already_rated", shown, status_code=409, status=row.status)
    if row.status != SELESAI:
        return _page(request, "not_finished", shown, status_code=409, status=row.status)
    return None


@router.get("/nilai/{tracking_id}")
async def rating_form(request: Request, tracking_id: str, t: str | None = None) -> Response:
    compact, error = _check(request, tracking_id, t)
    if error is not None:
        return error
    kanal = request.app.state.kanal

    def load():
        with kanal.engine.connect() as conn:
            return rating.find(conn, compact)

    shown = tracking.display(compact)
    row = await run_in_threadpool(load)
    return _refusal(request, shown, row, t) or _page(request, "form", shown, token=t)


@router.post("/nilai/{tracking_id}")
async def rate(request: Request, tracking_id: str) -> Response:
    form = await read_form(request, max_files=0, max_fields=10, max_part_size=16 * 1024)
    try:
        token, score, comment = (str(form.get(k) or "") for k in ("t", "score", "comment"))
    finally:
        await form.close()
    compact, error = _check(request, tracking_id, token or request.query_params.get("t"))
    if error is not None:
        return error
    shown = tracking.display(compact)
    token = token or request.query_params.get("t") or ""
    if score not in {str(n) for n in rating.SCORES}:
        return _page(request, "form", shown, status_code=422, token=token, comment=comment,
                     error="score")
    if len(comment) > rating.MAX_COMMENT:
        return _page(request, "form", shown, status_code=422, token=token,
                     comment=comment[:rating.MAX_COMMENT], score=int(score), error="comment")
    kanal = request.app.state.kanal

    def take():
        with writing(kanal.engine) as conn:
            row = rating.find(conn, compact)
            refused = _refusal(request, shown, row, token)
            if refused is not None:
                return refused, None
            try:
                return None, rating.rate(kanal.cases, conn, row, int(score), comment, "web",
                                         kanal.clock())
            except rating.RatingRefused as exc:  # rated by another request meanwhile
                return _page(request, exc.error, shown, status_code=exc.status_code), None

    refused, done = await run_in_threadpool(take)
    if refused is not None:
        return refused
    return _page(request, "thanks", shown, score=done.score, reopened=done.reopened)
