"""``tokentrail export`` (tokentrail.export): every table as CSV, JSON Lines and typed Parquet,
filtered like the reports; unknown values stay unknown (empty, null), never zero."""

from __future__ import annotations

import csv
import importlib
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from dashboard_data import SONNET, UNKNOWN_MODEL, Built, build_ledger
from tokentrail.cli import cli
from tokentrail.export import (
    CLI_TABLES,
    EVENT_COLUMNS,
    SESSION_COLUMNS,
    column_kind,
)


@pytest.fixture
def built(isolated_home: Path, db_path: Path) -> Built:
    return build_ledger(isolated_home, db_path)


def run(db_path: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["export", "-d", str(db_path), "--no-sync", *args])
    return result


def test_events_as_csv_to_standard_output(built: Built, db_path: Path) -> None:
    result = run(db_path)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 24
    assert list(rows[0]) == list(EVENT_COLUMNS)
    unknown = [r for r in rows if r["model"] == UNKNOWN_MODEL]
    assert len(unknown) == 2 and {r["cost_usd"] for r in unknown} == {""}
    sdk = [r for r in rows if r["source"] == "sdk"]
    assert {r["cache_write_5m_tokens"] for r in sdk} == {""}  # not reported, not 0
    assert all(r["timestamp"].endswith("Z") for r in rows)


def test_filters_apply_to_every_table(built: Built, db_path: Path) -> None:
    today = built.now.date().isoformat()
    codex = run(db_path, "--source", "codex")
    assert {r["source"] for r in csv.DictReader(io.StringIO(codex.stdout))} == {"codex"}
    since = run(db_path, "--since", today, "--format", "jsonl")
    events = [orjson.loads(line) for line in since.stdout.splitlines()]
    assert events and all(e["timestamp"].startswith(today) for e in events)
    daily = run(db_path, "--what", "daily", "--format", "jsonl", "--model", SONNET)
    rows = [orjson.loads(line) for line in daily.stdout.splitlines()]
    assert rows and {r["model"] for r in rows} == {SONNET}
    assert list(rows[0])[:3] == ["period", "model", "requests"]


def test_every_cli_table_in_every_text_format(built: Built, db_path: Path) -> None:
    for what in CLI_TABLES:
        for fmt in ("csv", "jsonl"):
            result = run(db_path, "--what", what, "--format", fmt)
            assert result.exit_code == 0, (what, fmt, result.output)
            assert result.stdout.strip(), (what, fmt)
    sessions = run(db_path, "--what", "sessions")
    rows = list(csv.DictReader(io.StringIO(sessions.stdout)))
    assert list(rows[0]) == list(SESSION_COLUMNS) and len(rows) == 7  # with requests
    idle = run(db_path, "--what", "sessions", "--without-usage")
    assert len(list(csv.DictReader(io.StringIO(idle.stdout)))) == 8
    opus = next(r for r in rows if r["subagent_count"] == "1")
    assert int(opus["requests"]) == 7 and int(opus["own_requests"]) == 4
    runs = list(csv.DictReader(io.StringIO(run(db_path, "--what", "runs").stdout)))
    assert [r["run_id"] for r in runs] == [built.run_id]


def test_parquet_has_typed_columns(built: Built, db_path: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = tmp_path / "events.parquet"
    result = run(db_path, "--format", "parquet", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "Wrote 24 events rows" in result.output
    table = pq.read_table(target)
    assert table.num_rows == 24
    schema = table.schema
    assert schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("output_tokens").type == pa.int64()
    assert schema.field("cost_usd").type == pa.float64()
    assert schema.field("model").type == pa.string()
    rows = table.to_pylist()
    unknown = [r for r in rows if r["model"] == UNKNOWN_MODEL]
    assert unknown and all(r["cost_usd"] is None for r in unknown)
    assert all(isinstance(r["timestamp"], datetime) for r in rows)
    assert rows[0]["timestamp"].tzinfo is not None
    sessions = tmp_path / "sessions.parquet"
    assert (
        run(db_path, "--what", "sessions", "--format", "parquet", "-o", str(sessions)).exit_code
        == 0
    )
    kinds = pq.read_table(sessions).schema
    assert kinds.field("started_at").type == pa.timestamp("ms", tz="UTC")
    assert kinds.field("own_cost_usd").type == pa.float64()
    assert kinds.field("subagent_count").type == pa.int64()


def test_an_empty_table_still_has_its_columns(tmp_path: Path, db_path: Path) -> None:
    import pyarrow.parquet as pq

    target = tmp_path / "none.parquet"
    assert run(db_path, "--what", "runs", "--format", "parquet", "-o", str(target)).exit_code == 0
    assert pq.read_table(target).num_rows == 0
    assert "run_id" in pq.read_table(target).schema.names
    header = run(db_path, "--what", "runs").stdout
    assert header.startswith("run_id,app,started_at")


def test_parquet_needs_a_file(built: Built, db_path: Path) -> None:
    result = run(db_path, "--format", "parquet")
    assert result.exit_code != 0
    assert "-o/--output" in result.output


def test_missing_pyarrow_names_the_extra(
    built: Built, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.import_module

    def without_pyarrow(name: str, package: str | None = None) -> Any:
        if name.startswith("pyarrow"):
            raise ImportError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_pyarrow)
    result = run(db_path, "--format", "parquet", "-o", str(tmp_path / "x.parquet"))
    assert result.exit_code != 0
    # the pip of this installation and the clone's extra: what the README's example says
    own_pip = Path(sys.executable).parent / "pip"
    assert f"{own_pip} install '.[parquet]'" in result.output
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = readme.index("tokentrail export --format parquet")
    assert "~/.tokentrail/bin/pip install -q '.[parquet]'" in readme[example - 200 : example]
    assert "~/.tokentrail/bin/pip install -q ." in readme  # the README's install, same pip


def test_column_kinds() -> None:
    assert column_kind("own_output_tokens") == "int"
    assert column_kind("reported_cost_usd") == "float"
    assert column_kind("last_activity") == "time"
    assert column_kind("date") == "date"
    assert column_kind("title") == "text"


def test_export_syncs_first_unless_told_not_to(isolated_home: Path, db_path: Path) -> None:
    from builders import claude_assistant, claude_session_file, write_jsonl

    moment = datetime(2026, 5, 4, 9, 30, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    write_jsonl(claude_session_file(isolated_home, "s-1"), [claude_assistant("s-1", moment, "m1")])
    skipped = run(db_path)
    assert len(list(csv.DictReader(io.StringIO(skipped.stdout)))) == 0
    synced = CliRunner().invoke(cli, ["export", "-d", str(db_path)])
    assert synced.exit_code == 0, synced.output
    assert len(list(csv.DictReader(io.StringIO(synced.stdout)))) == 1


FORMULAS = ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd")


def test_csv_cells_never_start_a_formula(db_path: Path) -> None:
    from tokentrail.ledger import Ledger
    from tokentrail.usage import Session, Tokens, UsageEvent

    with Ledger(db_path) as ledger:
        ledger.record_batch(
            [
                UsageEvent(
                    key=f"sdk:{i}",
                    source="sdk",
                    timestamp=datetime(2026, 5, 4, 10, tzinfo=UTC),
                    model=formula,
                    project=formula,
                    session_key=formula,
                    tokens=Tokens(input=10, output=1),
                )
                for i, formula in enumerate(FORMULAS)
            ],
            [Session(key=f, source="sdk", title=f, project=f) for f in FORMULAS],
        )
    for what in ("events", "sessions"):
        result = run(db_path, "--what", what)
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode(), newline="")))
        cells = [value for row in rows for value in row.values() if value]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], what
        assert {r["project"] for r in rows} == {"'" + f for f in FORMULAS}
    # a report's --csv goes through the same rule
    sessions = CliRunner().invoke(cli, ["sessions", "--csv", "--no-sync", "-d", str(db_path)])
    assert sessions.exit_code == 0, sessions.output
    assert "'=HYPERLINK" in sessions.stdout and ",=" not in sessions.stdout


def test_a_carriage_return_inside_a_cell_stays_in_its_row(db_path: Path) -> None:
    """A title or path with a CR (or CR LF) in the middle is quoted: a CSV reader (and a
    spreadsheet) sees one row per record, the text intact."""
    from tokentrail.ledger import Ledger
    from tokentrail.usage import Session, Tokens, UsageEvent

    texts = ["fix\rthe build", "/home/a\r\nb", "two\nlines"]
    with Ledger(db_path) as ledger:
        ledger.record_batch(
            [
                UsageEvent(
                    key=f"sdk:cr{i}",
                    source="sdk",
                    timestamp=datetime(2026, 5, 4, 10, tzinfo=UTC),
                    model=SONNET,
                    project=text,
                    session_key=f"cr{i}",
                    tokens=Tokens(input=10, output=1),
                )
                for i, text in enumerate(texts)
            ],
            [Session(key=f"cr{i}", source="sdk", title=t, project=t) for i, t in enumerate(texts)],
        )
    for what in ("events", "sessions"):
        result = run(db_path, "--what", what)
        assert result.exit_code == 0, result.output
        # stdout_bytes: click's stdout turns CR LF into LF
        rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode(), newline="")))
        assert sorted(r["project"] for r in rows) == sorted(texts), what
    report = CliRunner().invoke(cli, ["session", "--csv", "--no-sync", "-d", str(db_path)])
    assert report.exit_code == 0, report.output
    rows = list(csv.DictReader(io.StringIO(report.stdout_bytes.decode(), newline="")))
    assert sorted(r["title"] for r in rows) == sorted(texts)


def test_numbers_stay_numbers_in_csv() -> None:
    from tokentrail.output import render_csv, spreadsheet_safe

    assert spreadsheet_safe(-3) == -3 and spreadsheet_safe(-0.5) == -0.5
    assert spreadsheet_safe("-0.5") == "'-0.5"  # text is text, whatever it looks like
    assert render_csv([{"delta": -3, "name": "=1"}], blank=None) == "delta,name\n-3,'=1\n"
