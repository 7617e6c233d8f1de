"""``/webhooks/{channel}``: one entry point for every push channel."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from core.errors import ApiError

router = APIRouter()


def ready_adapter(request: Request, channel_id: str):
    kanal = request.app.state.kanal
    status = kanal.channel(channel_id)
    if status is None:
        raise ApiError(404, "unknown_channel", f"no channel named {channel_id!r}")
    if status.adapter is None:
        raise ApiError(503, "channel_disabled",
                       f"channel {channel_id!r} is disabled: {status.reason}")
    return status.adapter


async def webhook(request: Request, channel_id: str) -> Response:
    adapter = ready_adapter(request, channel_id)
    response = await adapter.webhook(request)
    if response is None:
        raise ApiError(404, "no_webhook", f"channel {channel_id!r} does not take webhooks")
    return response


# one handler, two operations: each method needs its own operation id in the schema
router.add_api_route("/webhooks/{channel_id}", webhook, methods=["POST"], tags=["webhooks"],
                     operation_id="receive_webhook", summary="Provider webhooks")
router.add_api_route("/webhooks/{channel_id}", webhook, methods=["GET"], tags=["webhooks"],
                     operation_id="verify_webhook",
                     summary="Provider verification handshakes (Meta, for example)")
