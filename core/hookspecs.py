"""Hook specifications. See docs/plugin_hooks.md for one section per hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from core.adapter import Adapter
    from core.canonical import InboundMessage, Location
    from core.unit import CaseWork, Escalation, NewReport, StatusChange, UnitOfWork

hookspec = pluggy.HookspecMarker("kanal")
hookimpl = pluggy.HookimplMarker("kanal")


@hookspec
def kanal_register_adapters(register: Callable[[type[Adapter]], None]) -> None:
    """Add adapter classes to the registry.

    :param register: call it with each adapter class this plugin provides.
    """


@hookspec(firstresult=True)
def kanal_classify(message: InboundMessage) -> str | None:
    """Choose the category of a new report; the first non-None answer wins.

    :param message: the canonical inbound message that opens the report.
    """


@hookspec(firstresult=True)
def kanal_locate(message: InboundMessage) -> Location | None:
    """Place a new report: return its location with the kelurahan code; the first non-None
    answer wins, and fields it leaves empty are taken from the message.

    :param message: the canonical inbound message; ``message.location`` may be None.
    """


@hookspec
def kanal_report_created(report: NewReport, message: InboundMessage, uow: UnitOfWork) -> None:
    """React to a new report in its transaction; may change its routing fields.

    The built-in case engine runs first and opens the case (queue, SLA); later plugins see
    that and may refine it.

    :param report: the report just created, with its tracking ID.
    :param message: the inbound message that opened it.
    :param uow: the unit of work of this transaction; write through it.
    """


@hookspec
def kanal_report_located(report: NewReport, message: InboundMessage, uow: UnitOfWork) -> None:
    """React to a report that had no location getting one from a later message.

    :param report: the report with its new point and kelurahan; hooks may change its
        routing fields as in ``kanal_report_created``.
    :param message: the later message that brought the location.
    :param uow: the unit of work of this transaction; write through it.
    """


@hookspec(firstresult=True)
def kanal_format_outbound(kind: str, report: NewReport, language: str,
                          details: dict) -> str | None:
    """Write the text of an outbound message to the citizen; the first answer wins.

    :param kind: what the message is for: ``ack``, ``follow_up_ack``, ``status_reply``,
        ``status_unknown``, ``status_mistyped``, ``status_help``, ``opt_out_ack``,
        ``opt_in_ack``, ``greeting``, ``too_large`` (a mail over the size limit),
        ``unsupported_message`` (a voice note, a sticker: kanal asks for text),
        ``status_changed`` (a case changed status), ``case_note`` (an officer's note),
        ``rating_request``, ``rating_thanks`` or ``rating_refused`` (docs/cases.md).
    :param report: the report the message is about, or None when there is none.
    :param language: ``id`` (Bahasa Indonesia) or ``en``.
    :param details: values the text may need beyond the report, by kind; ``too_large``
        has ``size`` and ``limit`` (both in bytes); ``status_changed`` has ``status``,
        ``old_status``, ``action``, ``note``, ``unit``, ``due``, ``at``, ``tracking_id``;
        ``case_note`` has ``text``; ``rating_request`` ``link`` (None where a reply of
        the number rates); ``rating_thanks`` ``score`` and ``reopened``;
        ``rating_refused`` ``reason``. Empty for the other kinds.
    """


@hookspec
def kanal_status_changed(change: StatusChange, work: CaseWork) -> None:
    """React to a case moving from one status to another, in its transaction.

    The built-in citizen notices (``core.notify``) tell the reporter on their channel.

    :param change: the transition: action, old and new status, unit, public note, time.
    :param work: write through it: ``work.add_case_event(...)``, ``work.notify_reporter(...)``.
    """


@hookspec
def kanal_case_escalated(escalation: Escalation, work: CaseWork) -> None:
    """React to a case that missed a deadline and went up a level, in its transaction.

    Called once per case and deadline, whichever process found it.

    :param escalation: the case, the clock and deadline it missed, the unit it went to.
    :param work: as in ``kanal_status_changed``.
    """
