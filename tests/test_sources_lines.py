"""The shared line reader: every complete line, numbered, with where to resume, whatever the
size of the chunks it reads a file in."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.sources import lines
from tokentrail.sources.files import ParseState
from tokentrail.sources.lines import Line, LinesEnd, iter_complete_lines

TOKENS = (b'"usage"', b'"tool_result"')
_LINE = st.one_of(
    st.just(b'{"usage":{"input_tokens":1}}'),
    st.just(b'{"type":"tool_result","text":"' + b"x" * 300 + b'"}'),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")),
)


def _read(
    path: Path, state: ParseState, prefilter: tuple[bytes, ...] | None
) -> list[Line | LinesEnd]:
    return list(iter_complete_lines(str(path), state, prefilter=prefilter))


def _expected(data: bytes, prefilter: tuple[bytes, ...] | None) -> list[tuple[int, bytes, int]]:
    complete = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
    found = []
    for number, line in enumerate(complete, start=1):
        if prefilter is None:
            found.append((number, line, -1))
            continue
        token = next((i for i, t in enumerate(prefilter) if t in line), -1)
        if token >= 0:
            found.append((number, line, token))
    return found


@settings(max_examples=60, deadline=None)
@given(
    body=st.lists(_LINE, max_size=30),
    chunk=st.integers(min_value=1, max_value=700),
    prefilter=st.sampled_from([None, TOKENS]),
)
def test_lines_are_the_same_whatever_the_chunk_size(
    tmp_path_factory: pytest.TempPathFactory,
    body: list[bytes],
    chunk: int,
    prefilter: tuple[bytes, ...] | None,
) -> None:
    path = tmp_path_factory.mktemp("lines") / "log.jsonl"
    data = b"".join(line + b"\n" for line in body) + b'{"usage":'  # a line still being written
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lines, "CHUNK_BYTES", chunk)
        items = _read(path, ParseState(), prefilter)
    *found, end = items
    assert [(i.number, i.data, i.token) for i in found if isinstance(i, Line)] == _expected(
        data, prefilter
    )
    assert isinstance(end, LinesEnd)
    assert end.state.offset == len(data) - len(b'{"usage":')
    assert end.state.line_no == len(body)
    assert end.pending_partial_line


def test_a_read_resumes_where_the_last_stopped_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lines, "CHUNK_BYTES", 7)
    path = tmp_path / "log.jsonl"
    first = [b'{"usage":%d}' % i for i in range(5)]
    path.write_bytes(b"".join(line + b"\n" for line in first))
    *_, end = _read(path, ParseState(), TOKENS)
    assert isinstance(end, LinesEnd)
    later = [b'{"usage":%d}' % i for i in range(5, 9)]
    with path.open("ab") as log:
        log.write(b"".join(line + b"\n" for line in later))
    *found, _ = _read(path, end.state, TOKENS)
    assert [(i.number, i.data) for i in found if isinstance(i, Line)] == [
        (6 + n, line) for n, line in enumerate(later)
    ]
