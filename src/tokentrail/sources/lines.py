"""The shared line reader of append-only logs: the complete lines after where the last read
stopped (:class:`ParseState`), with a byte pre-filter that spares the JSON parsing of lines
that cannot matter, and where to resume."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import orjson

from tokentrail.sources.files import ParseState, open_regular

CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes read at a time: most files are read in one piece (no copies), and memory stays
bounded on files of hundreds of megabytes. A larger file costs a copy of each chunk (the
partial line carried over, joined to the next chunk), about a millisecond per chunk, and at
most about three chunks of memory at once: with 32 MiB chunks that was 64-100 MB in each
sync worker at the peak, most of a sync's memory."""


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    data: bytes
    token: int = -1
    """With a pre-filter: the index of the first of its byte strings this line holds (it holds
    none of those before it), so a parser knows without scanning the line again."""


@dataclass(frozen=True, slots=True)
class LinesEnd:
    """The last item of :func:`iter_complete_lines`: where to resume, and whether a partial
    line (no newline, not valid JSON yet) was left unconsumed at the end of the file."""

    state: ParseState
    pending_partial_line: bool


def iter_complete_lines(
    path: str, state: ParseState, *, prefilter: Sequence[bytes] | None = None
) -> Iterator[Line | LinesEnd]:
    """Yield the complete lines of ``path`` after ``state.offset``, then the state to resume from.

    Lines that contain none of the ``prefilter`` byte strings are counted but not yielded:
    most bytes of agent logs are prompts and tool output, and skipping them before JSON
    parsing is the main speed-up. A final line without a newline is yielded only if it is
    already a complete JSON document; otherwise it is left for the next read. The last item
    yielded is always a :class:`LinesEnd`.
    """
    offset = state.offset
    line_no = state.line_no
    carry = b""
    with open_regular(path) as handle:
        if offset > 0 and _resumes_after_unterminated_line(handle, offset):
            offset += 1  # the newline that completed a line consumed without one
        handle.seek(offset)
        # ask for what the file holds (plus room to see it grew), not a whole chunk: a read
        # of CHUNK_BYTES allocates that much for every small file, which costs more than
        # reading it
        expected = os.fstat(handle.fileno()).st_size - offset
        while True:
            block = handle.read(min(CHUNK_BYTES, max(expected + 1, 64 * 1024)))
            expected -= len(block)
            if not block:
                break
            data = carry + block if carry else block
            del block  # joined to the carry, it is a second copy of the chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            # the complete lines are data[:cut + 1]; they are scanned in place, not copied
            line_no = yield from _lines_in(data, cut + 1, line_no, prefilter)
            offset += cut + 1
            del data  # read: not kept while the next chunk is read and joined
    pending = False
    if carry:
        if carry.strip() and _is_complete_json(carry):
            if prefilter is None:
                yield Line(line_no + 1, carry)
            else:
                token = next((i for i, t in enumerate(prefilter) if t in carry), -1)
                if token >= 0:
                    yield Line(line_no + 1, carry, token)
            line_no += 1
            offset += len(carry)
        else:
            pending = bool(carry.strip())
    yield LinesEnd(ParseState(offset, line_no, dict(state.memory)), pending)


def _lines_in(
    data: bytes, stop: int, line_no: int, prefilter: Sequence[bytes] | None
) -> Generator[Line, None, int]:
    """The lines of ``data[:stop]`` (which ends with a newline) worth parsing, numbered after
    ``line_no``; returns the number of the last line. With a pre-filter, only the lines around
    each match are cut out of the block, so the bulk of the bytes (prompts, tool output) is
    never copied or split."""
    if prefilter is None:
        parts = data[:stop].split(b"\n")
        parts.pop()  # the empty piece after the final newline
        for index, raw in enumerate(parts):
            yield Line(line_no + index + 1, raw)
        return line_no + len(parts)
    spans = _matching_lines(data, stop, prefilter)
    # newlines are counted in the lines between matches only: a matching line holds one
    counted_to = 0
    for start, end, token in spans:
        line_no += data.count(b"\n", counted_to, start) + 1
        counted_to = end + 1
        yield Line(line_no, data[start:end], token)
    return line_no + data.count(b"\n", counted_to, stop)


def _matching_lines(data: bytes, stop: int, tokens: Sequence[bytes]) -> list[tuple[int, int, int]]:
    """(start, end, token index) of each line of ``data[:stop]`` holding one of ``tokens``, in
    order. Each token is looked for only in the lines no earlier token matched: a line is
    scanned to its end once for the first token, and the later (rarer) tokens search only
    the gaps between lines already found, not the whole block again."""
    spans: list[tuple[int, int, int]] = []
    gaps = [(0, stop)]
    for index, token in enumerate(tokens):
        found_here: list[tuple[int, int, int]] = []
        for gap_start, gap_end in gaps:
            found = data.find(token, gap_start, gap_end)
            while found >= 0:
                start = max(data.rfind(b"\n", gap_start, found) + 1, gap_start)
                end = data.find(b"\n", found, gap_end)
                if end < 0:
                    end = gap_end
                found_here.append((start, end, index))
                found = data.find(token, end, gap_end)
        if not found_here:
            continue
        spans = sorted(spans + found_here) if spans else found_here
        gaps = _gaps_between(spans, stop)
    return spans


def _gaps_between(spans: Sequence[tuple[int, int, int]], stop: int) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    at = 0
    for start, end, _ in spans:
        if start > at:
            gaps.append((at, start))
        at = end + 1
    if at < stop:
        gaps.append((at, stop))
    return gaps


def _resumes_after_unterminated_line(handle: BinaryIO, offset: int) -> bool:
    """True when the last read consumed a final line that had no newline yet, and the
    newline has since been written: it belongs to that line, not to a new empty one."""
    handle.seek(offset - 1)
    previous, current = handle.read(1), handle.read(1)
    return previous != b"\n" and current == b"\n"


def _is_complete_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True
