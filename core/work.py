"""The state of one inbound message while the pipeline works on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.adapter import InboxRecord
from core.canonical import InboundMessage
from core.unit import NewReport

# what citizens may ask on conversational channels instead of reporting (a rating of a
# finished report among them), a provider's
# report that a message we sent was not delivered, and what is taken but let go (a live
# location's updates)
REQUESTS = frozenset({"status", "opt_out", "opt_in", "start", "rating", "delivery_report",
                      "ignore"})


@dataclass(slots=True, eq=False)
class Work:
    row: InboxRecord
    message: InboundMessage
    reporter_id: int | None = None
    report: NewReport | None = None  # created from this message
    # (report id, tracking id, status) of the report this message joins or asks about
    target: tuple[int, str, str] | None = None
    target_row: Any = None  # that report's row, as threading read it
    message_id: int | None = None
    reply: str | None = None  # the kind of answer it gets, if any
    reply_details: dict | None = None  # what that answer's text needs (kanal_format_outbound)

    @property
    def intent(self) -> str:
        return self.message.intent

    @property
    def report_id(self) -> int | None:
        if self.report is not None:
            return self.report.id
        return self.target[0] if self.target else None

    @property
    def tracking(self) -> tuple[str | None, str | None]:
        if self.report is not None:
            return self.report.tracking_id, self.report.status
        return (self.target[1], self.target[2]) if self.target else (None, None)

    @property
    def message_kind(self) -> str:
        if self.report is not None:
            return "complaint"
        return {"edit": "edit", "status": "status_query", "staff_reply": "staff_reply",
                "delivery_report": "delivery_report", "rating": "rating",
                }.get(self.intent, "follow_up")
