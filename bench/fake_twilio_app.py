"""The fake Twilio REST server for bench/twilio.py: just enough of the Messages resource
(https://www.twilio.com/docs/messaging/api/message-resource) for kanal's dispatcher, plus
``GET /_stats``, which returns what arrived.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` checks Basic auth, records
``[To, Body, arrival time.time()]`` and answers 201 with a Twilio-shaped message resource.

Run: ``python bench/fake_twilio_app.py --port 8002 --account-sid AC... --auth-token ...``
(uvicorn, one worker, no access log).
"""

from __future__ import annotations

import argparse
import base64
import time
import uuid
from email.utils import formatdate

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

records: list[tuple[str, str, float]] = []  # (To, Body, arrival time.time())
settings = {"account_sid": "", "authorization": ""}


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "status": status,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status)


async def create_message(request: Request) -> JSONResponse:
    arrived = time.time()
    sid = request.path_params["sid"]
    if (sid != settings["account_sid"]
            or request.headers.get("authorization") != settings["authorization"]):
        return error(401, 20003, "Authenticate")
    form = await request.form()
    to, body = str(form.get("To", "")), str(form.get("Body", ""))
    records.append((to, body, arrived))
    message_sid = "SM" + uuid.uuid4().hex
    now = formatdate(usegmt=True).replace("GMT", "+0000")
    uri = f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}"
    return JSONResponse(status_code=201, content={
        "account_sid": sid, "api_version": "2010-04-01", "body": body,
        "date_created": now, "date_sent": None, "date_updated": now,
        "direction": "outbound-api", "error_code": None, "error_message": None,
        "from": form.get("From"), "messaging_service_sid": None, "num_media": "0",
        "num_segments": "1", "price": None, "price_unit": "USD", "sid": message_sid,
        "status": "queued", "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": to, "uri": f"{uri}.json"})


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"count": len(records), "messages": records})


app = Starlette(routes=[
    Route("/2010-04-01/Accounts/{sid}/Messages.json", create_message, methods=["POST"]),
    Route("/_stats", stats, methods=["GET"]),
])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8002)
    p.add_argument("--account-sid", required=True)
    p.add_argument("--auth-token", required=True)
    args = p.parse_args()
    settings["account_sid"] = args.account_sid
    settings["authorization"] = "Basic " + base64.b64encode(
        f"{args.account_sid}:{args.auth_token}".encode()).decode()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
