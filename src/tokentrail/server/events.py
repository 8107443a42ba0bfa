"""``POST /api/v1/events``: a batch parsed item by item, the valid items written at once.

Each item is checked by :func:`tokentrail.ingest.event_from_report`, the rule the SDK uses too;
a bad item is answered ``rejected`` with the field named and never takes its neighbours with
it. All valid items of one request go to the ledger in one call, i.e. one transaction.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import orjson

from tokentrail.ingest import MAX_ID_LENGTH, InvalidUsage, UsageReport, event_from_report
from tokentrail.ledger import Ledger
from tokentrail.server.errors import ApiError, json_type
from tokentrail.server.models import ErrorDetail, EventResult, EventResults, parse_timestamp
from tokentrail.server.models import check_timestamp_range as _in_range
from tokentrail.usage import UsageEvent

EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UsageReport))
_KNOWN = frozenset(EVENT_FIELDS)
_NOT_TEXT = "is not valid text: it holds a lone UTF-16 surrogate (\\ud800-\\udfff); send UTF-8"


def parse_body(body: bytes) -> Any:
    """The JSON document of a request body; 400 when it is not JSON."""
    if not body.strip():
        raise ApiError(400, "invalid_json", 'the request body is empty; send {"events": [...]}')
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses what the standard parser takes (e.g. lone surrogates never reach here,
    # but huge integers do): fall back so one odd item is rejected alone, not the batch
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            400, "invalid_json", f"the request body is not valid JSON: {_short(exc)}"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def batch_items(document: Any, max_events: int) -> list[Any]:
    """The ``events`` list of a batch, or the 4xx that says what is wrong with it."""
    if not isinstance(document, dict):
        raise ApiError(
            400,
            "invalid_body",
            f'the request body must be a JSON object {{"events": [...]}}, '
            f"not {json_type(document)}",
        )
    for name in document:
        if name != "events":
            raise ApiError(422, "invalid_field", f"{name[:60]}: is not a known field", name[:60])
    if "events" not in document:
        raise ApiError(422, "invalid_field", "events: is required", "events")
    items = document["events"]
    if not isinstance(items, list):
        raise ApiError(
            422, "invalid_field", f"events: must be a list, not {json_type(items)}", "events"
        )
    if len(items) > max_events:
        raise ApiError(
            413,
            "too_many_events",
            f"events: {len(items)} events in one request; send at most {max_events} "
            "per request (split the batch)",
            "events",
        )
    return items


def event_from_item(item: Any) -> UsageEvent:
    """One batch item as a ledger event; :class:`InvalidUsage` names the bad field."""
    if not isinstance(item, dict):
        raise InvalidUsage("event", f"must be a JSON object, not {json_type(item)}")
    for name, value in item.items():
        # JSON may escape half of a UTF-16 pair ("\ud800"): that is no text, and the ledger
        # (UTF-8) cannot store it; the item is refused, its neighbours are not
        if not _is_text(name):
            raise InvalidUsage("event", f"a field name {_NOT_TEXT}")
        if isinstance(value, str) and not _is_text(value):
            raise InvalidUsage(name, _NOT_TEXT)
    for name in item:
        if name not in _KNOWN:
            raise InvalidUsage(
                name[:60], f"is not an event field; the fields are {', '.join(EVENT_FIELDS)}"
            )
    values = {name: value for name, value in item.items() if value is not None}
    if "event_id" not in values:
        raise InvalidUsage(
            "event_id",
            "is required: give each request a unique id (e.g. the provider's response id) so "
            "that a resend is counted once",
        )
    if values["event_id"] == "":
        raise InvalidUsage("event_id", "must not be empty")
    if "timestamp" in values:
        try:
            values["timestamp"] = parse_timestamp(values["timestamp"])
            values["timestamp"] = _in_range(values["timestamp"])
        except ValueError as exc:
            raise InvalidUsage("timestamp", str(exc)) from None
    return event_from_report(UsageReport(**values))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _item_id(item: Any) -> str | None:
    if isinstance(item, dict):
        value = item.get("event_id")
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and _is_text(value):
            return value
    return None


def record_batch(ledger: Ledger, body: bytes, max_events: int) -> EventResults:
    """Parse, check and record one ``POST /api/v1/events`` body."""
    items = batch_items(parse_body(body), max_events)
    results: list[EventResult] = []
    valid: list[tuple[int, UsageEvent]] = []
    for index, item in enumerate(items):
        event_id = _item_id(item)
        try:
            event = event_from_item(item)
        except InvalidUsage as exc:
            detail = ErrorDetail(code="invalid_field", message=str(exc), field=exc.field)
            results.append(EventResult(event_id=event_id, status="rejected", error=detail))
            continue
        except (ValueError, TypeError, OverflowError) as exc:
            # a value the rules above let through but the ledger's types refuse
            detail = ErrorDetail(code="invalid_event", message=f"event: {_short(exc)}")
            results.append(EventResult(event_id=event_id, status="rejected", error=detail))
            continue
        valid.append((index, event))
        results.append(EventResult(event_id=event_id, status="created", error=None))
    if valid:
        statuses = ledger.record_events([event for _, event in valid])
        for (index, _), status in zip(valid, statuses, strict=True):
            results[index].status = "created" if status == "created" else "duplicate"
    return EventResults(results=results)
