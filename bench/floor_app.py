"""The floor for bench/ack.py and bench/twilio.py: a bare FastAPI app with two POST
endpoints and no authentication, signature check, persistence or pipeline:

- ``/api/v1/jaki/reports`` parses the same JAKI JSON body as kanal's intake (same pydantic
  model, same call) and answers 201;
- ``/webhooks/sms`` parses Twilio's form-encoded body (``await request.form()``) and
  answers 200 with empty TwiML, as kanal's Twilio webhook does.

Run: ``python bench/floor_app.py --port 8001`` (uvicorn with kanal's own options: one
worker, default loop/http, i.e. uvloop/httptools when installed, no access log).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402

from adapters.jaki.payloads import JakiReport  # noqa: E402

app = FastAPI(title="floor")
_counter = itertools.count(1)


@app.post("/api/v1/jaki/reports", status_code=201)
async def submit(request: Request) -> JSONResponse:
    report = JakiReport.model_validate_json(await request.body())
    n = next(_counter)
    return JSONResponse(status_code=201, content={
        "tracking_id": f"FLOOR-{n:08d}", "status": "Menunggu", "follow_up": False,
        "url": f"/lacak/{report.external_id}"})


EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@app.post("/webhooks/sms")
async def sms(request: Request) -> Response:
    form = await request.form()
    if not form.get("MessageSid"):
        return Response(status_code=400)
    return Response(EMPTY_TWIML, media_type="application/xml")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    args = p.parse_args()
    # the same uvicorn.run options as `kanal serve` (gateway/cli/serve.py)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=True,
                forwarded_allow_ips="127.0.0.1", access_log=False)


if __name__ == "__main__":
    main()
