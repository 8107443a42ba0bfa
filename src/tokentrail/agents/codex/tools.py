"""The tool calls of a Codex rollout: a call (``function_call``, ``custom_tool_call``: its
name, id and the lines a patch changes) or its output (``*_output``: the exit code only,
never the text)."""

from __future__ import annotations

import re

import orjson

from tokentrail.agents.codex import AGENT, edits
from tokentrail.sources.values import text_or_none
from tokentrail.usage import ToolCall, ToolResult

_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})
_TOOL_ITEMS = frozenset({"function_call", "custom_tool_call"}) | _OUTPUTS
_EXIT_CODE = re.compile(r"^\s*(?:Exit code|Process exited with code):?\s*(-?\d+)", re.MULTILINE)


def tool_record(
    payload: dict[str, object], at_ms: int, session: str, model: str | None
) -> ToolCall | ToolResult | None:
    """The call or result a ``response_item`` payload records, if it is one."""
    kind = payload.get("type")
    call_id = text_or_none(payload.get("call_id"))
    if call_id is None or kind not in _TOOL_ITEMS:
        return None
    key = f"{AGENT.name}:call:{call_id}"
    if kind in _OUTPUTS:
        success = tool_success(payload.get("output"))
        return ToolResult(
            key=key, source=AGENT.name, timestamp_ms=at_ms, success=success, session_key=session
        )
    name = text_or_none(payload.get("name"))
    if name is None:
        return None
    raw = payload.get("arguments") if kind == "function_call" else payload.get("input")
    added, removed = edits.count_lines(name, json_or_text(raw))
    return ToolCall(
        key=key,
        source=AGENT.name,
        tool_name=name,
        timestamp_ms=at_ms,
        session_key=session,
        lines_added=added,
        lines_removed=removed,
        model=model,
        from_log=True,
    )


def json_or_text(raw: object) -> object:
    """Call arguments: Codex writes them as a JSON string (function calls) or plain text
    (custom tools such as ``apply_patch``)."""
    if not isinstance(raw, str):
        return raw
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def tool_success(output: object) -> bool | None:
    """Whether a tool call succeeded, from its output: ``metadata.exit_code`` of a JSON
    output (older versions), an ``Exit code: N`` line (newer ones), or a ``success`` flag;
    None when the output says neither."""
    value = json_or_text(output)
    if isinstance(value, dict):
        success = value.get("success")
        if isinstance(success, bool):
            return success
        metadata = value.get("metadata")
        if isinstance(metadata, dict):
            code = metadata.get("exit_code")
            if isinstance(code, int) and not isinstance(code, bool):
                return code == 0
        value = value.get("output") if isinstance(value.get("output"), str) else None
    if isinstance(value, str):
        found = _EXIT_CODE.search(value[:2000])
        if found is not None:
            return int(found.group(1)) == 0
    return None
