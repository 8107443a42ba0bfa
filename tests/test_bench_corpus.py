"""The benchmark corpus generator writes valid, parseable logs whose manifest tells the truth.

The truth is recomputed here independently from the files, with the counting rules of
DESIGN.md §3, so a generator bug cannot hide behind its own bookkeeping.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_corpus", BENCH / "generate_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    gen.generate(out, 1.0, 7)
    return out


def _jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            assert line.endswith("\n"), f"{path}:{number} is not newline-terminated"
            record = json.loads(line)
            assert isinstance(record, dict), f"{path}:{number} is not an object"
            yield record


def _claude_files(home: Path) -> list[Path]:
    return sorted((home / ".claude" / "projects").rglob("*.jsonl"))


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _claude_requests(usage: dict[str, Any], key: str) -> Iterator[tuple[str, dict[str, int]]]:
    """The reply's own request, and one per advisor call in ``usage.iterations[]`` (billed
    apart, outside the top-level counters; the ``message`` entry repeats the top level)."""
    entries = [(key, usage)] + [
        (f"{key}:iteration:{index}", entry)
        for index, entry in enumerate(usage.get("iterations") or ())
        if entry["type"] == "advisor_message"
    ]
    for name, counts in entries:
        split = counts.get("cache_creation") or {
            "ephemeral_5m_input_tokens": counts["cache_creation_input_tokens"],
            "ephemeral_1h_input_tokens": 0,
        }
        yield (
            name,
            {
                "input": counts["input_tokens"],
                "cache_read": counts["cache_read_input_tokens"],
                "cw5": split["ephemeral_5m_input_tokens"],
                "cw1h": split["ephemeral_1h_input_tokens"],
                "output": counts["output_tokens"],
            },
        )


def _claude_truth(home: Path) -> dict[str, int]:
    """One request per message.id (across files) and per advisor entry of it, the largest
    streamed snapshot wins."""
    requests: dict[str, dict[str, int]] = {}
    for path in _claude_files(home):
        for record in _jsonl_records(path):
            message = record.get("message") or {}
            if record.get("type") != "assistant" or message.get("model") == "<synthetic>":
                continue
            for key, counts in _claude_requests(message["usage"], message["id"]):
                seen = requests.get(key)
                if seen is None or counts["output"] > seen["output"]:
                    requests[key] = counts
    return {
        "requests": len(requests),
        "input_tokens": sum(r["input"] for r in requests.values()),
        "cache_read_tokens": sum(r["cache_read"] for r in requests.values()),
        "cache_write_5m_tokens": sum(r["cw5"] for r in requests.values()),
        "cache_write_1h_tokens": sum(r["cw1h"] for r in requests.values()),
        "output_tokens": sum(r["output"] for r in requests.values()),
    }


def _codex_truth(home: Path) -> dict[str, int]:
    """Sum of last_token_usage over token_count events whose cumulative total grew."""
    totals = dict.fromkeys(("requests", "input", "cached", "output", "reasoning"), 0)
    for path in sorted((home / ".codex" / "sessions").rglob("rollout-*.jsonl")):
        previous_total = -1
        for record in _jsonl_records(path):
            payload = record["payload"]
            if record["type"] != "event_msg" or payload.get("type") != "token_count":
                continue
            info = payload.get("info")
            if info is None:
                continue
            cumulative = info["total_token_usage"]["total_tokens"]
            if cumulative <= previous_total:
                continue
            previous_total = cumulative
            last = info["last_token_usage"]
            assert last["total_tokens"] == last["input_tokens"] + last["output_tokens"]
            assert last["cached_input_tokens"] <= last["input_tokens"]
            assert last["reasoning_output_tokens"] <= last["output_tokens"]
            totals["requests"] += 1
            totals["input"] += last["input_tokens"] - last["cached_input_tokens"]
            totals["cached"] += last["cached_input_tokens"]
            totals["output"] += last["output_tokens"]
            totals["reasoning"] += last["reasoning_output_tokens"]
    return totals


def test_layout_follows_each_agents_paths(corpus: Path) -> None:
    home = corpus / "home"
    manifest = gen.read_manifest(corpus)
    main = sorted((home / ".claude" / "projects").glob("*/*.jsonl"))
    subagents = sorted((home / ".claude" / "projects").glob("*/*/subagents/agent-*.jsonl"))
    rollouts = sorted((home / ".codex" / "sessions").glob("*/*/*/rollout-*-*.jsonl"))
    chats = sorted((home / ".gemini" / "tmp").glob("*/chats/session-*.json"))
    assert len(main) == manifest["files"]["claude_code"] >= 12
    assert len(subagents) == manifest["files"]["claude_code_subagent"] >= 2
    assert len(rollouts) == manifest["files"]["codex"] >= 3
    assert len(chats) == manifest["files"]["gemini"] >= 2
    for path in subagents:  # <project>/<sessionId>/subagents/agent-<id>.jsonl
        assert (path.parent.parent.parent / f"{path.parent.parent.name}.jsonl").exists()
    on_disk = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    assert on_disk == manifest["bytes_total"]
    assert 0.8 * 1024 * 1024 < on_disk < 1.3 * 1024 * 1024  # --size-mb 1


def test_claude_lines_carry_the_fields_readers_use(corpus: Path) -> None:
    streamed: dict[str, list[int]] = {}
    kinds: set[str] = set()
    for path in _claude_files(corpus / "home"):
        is_subagent = path.parent.name == "subagents"
        for record in _jsonl_records(path):
            kinds.add(record["type"])
            if record["type"] == "summary":
                continue
            for key in ("sessionId", "cwd", "gitBranch", "uuid", "timestamp", "version"):
                assert record.get(key), (path, key)
            assert "parentUuid" in record
            assert record["isSidechain"] is is_subagent
            assert datetime(2025, 6, 1, tzinfo=UTC) < _timestamp(record["timestamp"])
            assert _timestamp(record["timestamp"]) < datetime(2026, 3, 1, tzinfo=UTC)
            if is_subagent:
                assert path.stem == f"agent-{record['agentId']}"
                assert path.parent.parent.name == record["sessionId"]
            if record["type"] != "assistant":
                continue
            message = record["message"]
            usage = message["usage"]
            if message["model"] == "<synthetic>":
                assert "requestId" not in record and usage["output_tokens"] == 0
                continue
            assert message["id"].startswith("msg_01") and record["requestId"].startswith("req_")
            assert message["model"].startswith("claude-")
            assert usage["service_tier"] == "standard"
            split = usage.get("cache_creation")
            if split is not None:
                assert (
                    split["ephemeral_5m_input_tokens"] + split["ephemeral_1h_input_tokens"]
                    == usage["cache_creation_input_tokens"]
                )
            streamed.setdefault(f"{path}:{message['id']}", []).append(usage["output_tokens"])
    assert {"user", "assistant"} <= kinds
    partials = [outputs for outputs in streamed.values() if len(outputs) > 1]
    assert partials, "no streamed reply written more than once"
    assert all(outputs == sorted(outputs) for outputs in partials)  # output grows as it streams


def test_manifest_truth_matches_the_files(corpus: Path) -> None:
    truth = gen.read_manifest(corpus)["truth"]
    claude = _claude_truth(corpus / "home")
    for key, value in claude.items():
        assert truth["claude_code"][key] == value, key
    codex = _codex_truth(corpus / "home")
    assert truth["codex"]["requests"] == codex["requests"]
    assert truth["codex"]["input_tokens"] == codex["input"]
    assert truth["codex"]["cache_read_tokens"] == codex["cached"]
    assert truth["codex"]["output_tokens"] == codex["output"]
    assert truth["codex"]["reasoning_tokens"] == codex["reasoning"]


def test_every_trap_is_present_even_in_a_tiny_corpus(corpus: Path) -> None:
    traps = gen.read_manifest(corpus)["traps"]
    for name in (
        "streaming_partial_lines",
        "resumed_copy_lines",
        "synthetic_lines",
        "task_result_usage_lines",
        "codex_repeated_token_counts",
        "codex_rate_limit_only_events",
        "advisor_calls",
    ):
        assert traps[name] > 0, name
    # a resumed session repeats message ids of another file under its own sessionId
    owners: dict[str, set[str]] = {}
    for path in _claude_files(corpus / "home"):
        for record in _jsonl_records(path):
            if record.get("type") == "assistant":
                owners.setdefault(record["message"]["id"], set()).add(record["sessionId"])
    assert any(len(sessions) > 1 for sessions in owners.values())


def test_gemini_chats_are_json_documents_with_token_counts(corpus: Path) -> None:
    requests = 0
    for path in sorted((corpus / "home" / ".gemini" / "tmp").rglob("session-*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["sessionId"] and len(document["projectHash"]) == 64
        for message in document["messages"]:
            if message["type"] == "gemini":
                tokens = message["tokens"]
                assert tokens["cached"] <= tokens["input"]
                assert tokens["total"] == tokens["input"] + tokens["output"] + tokens["thoughts"]
                requests += 1
    assert requests == gen.read_manifest(corpus)["truth"]["gemini"]["requests"] > 0


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for path in sorted(p for p in (root / "home").rglob("*") if p.is_file()):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        return h.hexdigest()

    gen.generate(tmp_path / "a", 0.3, 3)
    gen.generate(tmp_path / "b", 0.3, 3)
    gen.generate(tmp_path / "c", 0.3, 4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_append_adds_turns_and_keeps_truth_exact(tmp_path: Path) -> None:
    gen.generate(tmp_path, 0.5, 5)
    before = gen.read_manifest(tmp_path)["truth"]["claude_code"]["requests"]
    sizes = {p: p.stat().st_size for p in _claude_files(tmp_path / "home")}
    result = gen.append_turns(tmp_path, files=4)
    assert len(result.files) == 4 and result.requests >= 4
    grown = [p for p in sizes if p.stat().st_size > sizes[p]]
    assert sorted(grown) == sorted(result.files)
    manifest = gen.read_manifest(tmp_path)
    assert manifest["appends"] == 1
    assert manifest["truth"]["claude_code"]["requests"] == before + result.requests
    claude = _claude_truth(tmp_path / "home")  # also proves the appended lines parse
    for key, value in claude.items():
        assert manifest["truth"]["claude_code"][key] == value, key
    second = gen.append_turns(tmp_path, files=4)
    assert sorted(second.files) != sorted(result.files)  # each call appends to other files


def _synced_ledger(corpus: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The corpus read by a real sync into a real SQLite ledger."""
    from tokentrail.ledger import Ledger
    from tokentrail.sync import sync

    monkeypatch.setenv("HOME", str(corpus / "home"))
    ledger = Ledger(tmp / "ledger.db")
    sync(ledger)
    return ledger


def test_every_session_matches_the_truth_after_a_sync(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per session: a resumed session keeps only its own requests, advisor calls count in
    the session that made them, subagents are sessions of their own (0 off, 0 missing)."""
    from tokentrail.store.base import Filters

    manifest = gen.read_manifest(corpus)
    assert manifest["resumed_originals"] and manifest["traps"]["advisor_calls"]
    with _synced_ledger(corpus, tmp_path, monkeypatch) as ledger:
        rows = ledger.store.session_totals(Filters(), by_model=False)
        got = {r.session.key: r.totals for r in rows if r.totals.requests}
        daily = ledger.store.totals(Filters(sources=("claude_code",)))
    off, missing = [], []
    for key, truth in manifest["sessions"].items():
        found = got.get(key)
        if found is None:
            missing.append(key)
            continue
        tokens = (
            found.input + found.cache_read + found.cache_write_5m + found.cache_write_1h
        ) + found.output
        if (found.requests, tokens) != (truth["requests"], truth["total_tokens"]):
            off.append((key, (found.requests, tokens), (truth["requests"], truth["total_tokens"])))
    assert (off, missing) == ([], [])
    assert set(got) == set(manifest["sessions"])  # and no session the generator did not write
    claude = manifest["truth"]["claude_code"]
    assert (daily.requests, daily.output) == (claude["requests"], claude["output_tokens"])
