"""The contract every registered agent keeps, checked generically (one parametrized test per
clause): fixtures, a docs section, a label and colour, discovery roots, its variables and
override honoured, what a second read of a grown log yields (only what was added; the whole
document again with the same keys; a running total's growth), a record updated in place,
kill-safety, bad input (malformed, truncated, huge numbers, special files, unreadable files and
folders), and one sync of a home holding every agent.

An agent takes part by being registered (``tokentrail/agents/<name>/``) with a ``contract.KIT``
(:class:`tokentrail.agents.contract.ContractKit`); nothing here names an agent.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from test_sync import as_unprivileged, shared_dir  # noqa: F401  (a fixture)
from tokentrail.agents import Agent, all_agents
from tokentrail.agents.contract import (
    INPUT,
    OUTPUT,
    ContractKit,
    Reread,
    RunningTotal,
    UpdatedInPlace,
    when,
)
from tokentrail.cli import cli
from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseState, SourceFile
from tokentrail.sync import SyncSummary, sync
from tokentrail.usage import UsageEvent

ROOT = Path(__file__).parent.parent
AGENTS = all_agents()

KNOWN_GAPS: dict[tuple[str, str], str] = {}
"""Clauses an agent does not keep yet, each with why: the test must fail for them (strict), so
one that starts to pass is taken off this list. None today."""


def known_gap(request: pytest.FixtureRequest, clause: str, agent: Agent) -> None:
    reason = KNOWN_GAPS.get((clause, agent.name))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(params=AGENTS, ids=[a.name for a in AGENTS])
def agent(request: pytest.FixtureRequest) -> Agent:
    described: Agent = request.param
    return described


def kit_of(agent: Agent) -> ContractKit:
    kit: ContractKit = agent.module("contract").KIT
    return kit


def rereading(mode: Reread) -> list[Any]:
    """The agents whose second read of a grown log yields ``mode`` (see ``Reread``)."""
    return [pytest.param(a, id=a.name) for a in AGENTS if kit_of(a).reread == mode]


def updated_in_place() -> list[Any]:
    """The agents whose kit updates a request's record in place (``UpdatedInPlace``)."""
    return [pytest.param(a, id=a.name) for a in AGENTS if hasattr(kit_of(a), "update")]


def running_total_kit(agent: Agent) -> RunningTotal:
    kit = kit_of(agent)
    assert isinstance(kit, RunningTotal), f"{agent.name}'s kit must be a RunningTotal"
    return kit


def in_place_kit(agent: Agent) -> UpdatedInPlace:
    kit: UpdatedInPlace = agent.module("contract").KIT
    return kit


def run(db: Path, agent: Agent, roots: list[Path], home: Path) -> SyncSummary:
    env = {"HOME": str(home), agent.override: os.pathsep.join(str(r) for r in roots)}
    with Ledger(db, config=Config(), machine="test-machine") as ledger:
        return sync(ledger, source_names=[agent.name], env=env, workers=1)


def totals(db: Path, agent: Agent) -> tuple[int, int | None, int | None]:
    """Requests, input and output; for an agent that reports a cost alone (Crush), requests,
    its cost in micro-dollars, and the number of token counts stored (none: never zeros)."""
    query = (
        "SELECT COUNT(*), CAST(ROUND(SUM(reported_cost_usd) * 1000000) AS INTEGER), "
        "COUNT(input) + COUNT(output) FROM events WHERE source = ?"
        if cost_only(agent)
        else "SELECT COUNT(*), SUM(COALESCE(input, 0)), SUM(COALESCE(output, 0)) FROM events "
        "WHERE source = ?"
    )
    with sqlite3.connect(db) as conn:
        count, input, output = conn.execute(query, (agent.name,)).fetchone()
    return count, input or 0, output or 0


def cost_only(agent: Agent) -> bool:
    return bool(getattr(kit_of(agent), "cost_only", False))


def expected(requests: int, agent: Agent) -> tuple[int, int, int]:
    if cost_only(agent):
        return requests, requests * INPUT, 0  # INPUT micro-dollars each, no token counts
    return requests, requests * INPUT, requests * OUTPUT


# -- registration ---------------------------------------------------------------------------


def test_it_is_described_labelled_coloured_and_documented(agent: Agent) -> None:
    reader = agent.source()
    assert (reader.name, reader.env_var) == (agent.name, agent.override)
    assert agent.label and agent.short_label and agent.locations
    assert agent.override.startswith("TOKENTRAIL_") and agent.override.endswith("_PATHS")
    counting = (ROOT / "docs" / "counting.md").read_text()
    assert f"\n## {agent.heading}\n" in counting, f"docs/counting.md needs ## {agent.heading}"
    fixtures = ROOT / "tests" / "data" / agent.name
    assert fixtures.is_dir() and any(fixtures.iterdir()), f"tests/data/{agent.name}/ is empty"


def test_the_dashboard_and_the_terminal_show_its_label_and_colour(agent: Agent) -> None:
    from tokentrail.output import _agent_labels
    from tokentrail.server.rendering import agent_colours, source_label

    assert source_label(agent.name) == agent.label
    assert f".source-{agent.name}::before {{ background: {agent.colour}; }}" in agent_colours()
    assert _agent_labels()[agent.name] == agent.short_label


def test_its_default_roots_are_under_the_home(agent: Agent, tmp_path: Path) -> None:
    roots = agent.source().default_roots({}, tmp_path)
    assert roots
    assert all(root.is_relative_to(tmp_path) for root in roots)


def test_each_of_its_own_variables_moves_where_it_looks(agent: Agent, tmp_path: Path) -> None:
    reader = agent.source()
    default = reader.default_roots({}, tmp_path / "home")
    for variable in agent.env:
        moved = tmp_path / "moved"
        value = moved / "x.db" if variable.endswith("_DB") else moved
        roots = reader.default_roots({variable: str(value)}, tmp_path / "home")
        assert roots != default, variable
        assert any(root.is_relative_to(moved) for root in roots), (variable, roots)


# -- reading --------------------------------------------------------------------------------


def test_its_override_is_honoured_and_totals_are_exact(
    agent: Agent, tmp_path: Path, isolated_home: Path
) -> None:
    kit, root, db = kit_of(agent), tmp_path / "logs", tmp_path / "ledger.db"
    kit.add(kit.log_path(root), 0, 3)
    summary = run(db, agent, [root], isolated_home)
    assert summary.searched == [str(root)]
    assert summary.new_by_source == {agent.name: 3}, summary
    assert summary.skips.total == 0, summary.skips
    assert totals(db, agent) == expected(3, agent)
    assert run(db, agent, [root], isolated_home).new_events == 0


@pytest.mark.parametrize("agent", rereading("added"))
def test_a_second_read_reads_only_what_was_added(agent: Agent, tmp_path: Path) -> None:
    kit, root = kit_of(agent), tmp_path / "logs"
    path = kit.log_path(root)
    kit.add(path, 0, 3)
    reader = agent.source()
    file = the_file(agent, root, path)
    first = reader.parse(file, ParseState())
    assert len(first.events) == 3
    kit.add(path, 3, 2)
    if kit.storage == "lines":
        # what was read before becomes unreadable: a reader that read it again would say so
        offset = first.state.offset
        with open(path, "r+b") as handle:
            handle.write(b" " * (offset - 1))
    second = reader.parse(file, first.state)
    assert second.skips == []
    assert len(second.events) == 2
    assert {e.key for e in second.events}.isdisjoint(e.key for e in first.events)


@pytest.mark.parametrize("agent", rereading("whole"))
def test_a_document_read_whole_again_brings_back_each_request_with_its_key(
    agent: Agent, tmp_path: Path
) -> None:
    kit, root = kit_of(agent), tmp_path / "logs"
    path = kit.log_path(root)
    kit.add(path, 0, 3)
    reader = agent.source()
    file = the_file(agent, root, path)
    first = reader.parse(file, ParseState())
    before = by_request(first.events)
    assert sorted(before) == [when(i) for i in range(3)], first.events
    # read again unchanged: the same requests, keys and counts (the ledger keeps one)
    assert by_request(reader.parse(file, first.state).events) == before
    kit.add(path, 3, 2)
    second = reader.parse(file, first.state)
    assert second.skips == []
    after = by_request(second.events)
    # every request read before comes back with its key and counts, so it is not counted again
    assert {request: after.get(request) for request in before} == before
    # and exactly the added requests are new
    assert sorted(after.keys() - before.keys()) == [when(3), when(4)]
    assert len({key for key, _ in after.values()}) == 5


@pytest.mark.parametrize("agent", rereading("whole"))
def test_a_sync_after_a_document_grew_adds_exactly_its_new_requests(
    agent: Agent, tmp_path: Path, isolated_home: Path
) -> None:
    kit, root, db = kit_of(agent), tmp_path / "logs", tmp_path / "ledger.db"
    path = kit.log_path(root)
    kit.add(path, 0, 3)
    assert run(db, agent, [root], isolated_home).new_by_source == {agent.name: 3}
    unchanged = run(db, agent, [root], isolated_home)
    assert (unchanged.new_events, unchanged.updated_events, unchanged.files_read) == (0, 0, 0)
    kit.add(path, 3, 2)
    grown = run(db, agent, [root], isolated_home)
    assert grown.new_by_source == {agent.name: 2}, grown
    assert grown.updated_events == 0, grown
    assert totals(db, agent) == expected(5, agent)


@pytest.mark.parametrize("agent", rereading("growth"))
def test_a_running_total_records_its_growth_once_and_never_negative(
    agent: Agent, tmp_path: Path
) -> None:
    kit, root = running_total_kit(agent), tmp_path / "logs"
    path = kit_of(agent).log_path(root)
    kit.write_total(path, 3)
    reader = agent.source()
    file = the_file(agent, root, path)
    first = reader.parse(file, ParseState())
    assert counted(first.events) == worth(3)
    # read again unchanged: nothing (never twice)
    assert reader.parse(file, first.state).events == []
    kit.write_total(path, 5)
    grown = reader.parse(file, first.state)
    assert counted(grown.events) == worth(2)
    assert keys(grown.events).isdisjoint(keys(first.events))
    assert reader.parse(file, grown.state).events == []
    # read again from the same memory (a sync killed before its commit): the same keys, so
    # the ledger keeps one
    assert keys(reader.parse(file, first.state).events) == keys(grown.events)
    # the total was reset (a shrink): nothing is recorded, never a negative growth
    kit.write_total(path, 1)
    reset = reader.parse(file, grown.state)
    assert reset.events == [], reset.events
    # and it grows from there: only that growth is new
    kit.write_total(path, 2)
    regrown = reader.parse(file, reset.state)
    assert counted(regrown.events) == worth(1)
    assert keys(regrown.events).isdisjoint(keys(first.events) | keys(grown.events))


@pytest.mark.parametrize("agent", rereading("growth"))
def test_a_sync_records_a_running_totals_growth_once_and_never_negative(
    agent: Agent, tmp_path: Path, isolated_home: Path
) -> None:
    kit, root, db = running_total_kit(agent), tmp_path / "logs", tmp_path / "ledger.db"
    path = kit_of(agent).log_path(root)
    for requests, new in ((3, 1), (3, 0), (5, 1), (5, 0), (1, 0), (2, 1)):
        kit.write_total(path, requests)
        summary = run(db, agent, [root], isolated_home)
        assert (summary.new_events, summary.updated_events) == (new, 0), (requests, summary)
    # 3, then 2 more, then (after the reset to 1) 1 more: 6 requests' worth, no negative
    _, input, output = totals(db, agent)
    assert (input, output) == worth(6)
    with sqlite3.connect(db) as conn:
        negative = conn.execute(
            "SELECT COUNT(*) FROM events WHERE source = ? AND (input < 0 OR output < 0)",
            (agent.name,),
        ).fetchone()[0]
    assert negative == 0


@pytest.mark.parametrize("agent", updated_in_place())
def test_a_record_updated_in_place_stays_one_record_with_its_new_value(
    agent: Agent, tmp_path: Path, isolated_home: Path
) -> None:
    kit, root, db = kit_of(agent), tmp_path / "logs", tmp_path / "ledger.db"
    path = kit.log_path(root)
    kit.add(path, 0, 3)
    run(db, agent, [root], isolated_home)
    in_place_kit(agent).update(path, 1, input=INPUT + 150)
    summary = run(db, agent, [root], isolated_home)
    assert (summary.new_events, summary.updated_events) == (0, 1), summary
    count, input, tokens_or_output = expected(3, agent)
    grown = (count, input + 150, tokens_or_output)
    assert totals(db, agent) == grown
    # read again from the start (the cursor lost): still one record per request, the new value
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM cursors")
    run(db, agent, [root], isolated_home)
    assert totals(db, agent) == grown


def the_file(agent: Agent, root: Path, path: Path) -> SourceFile:
    """The file discovery finds at ``path`` under ``root``."""
    found = list(agent.source().discover([root]))
    files = [f for f in found if f.path == str(path)]
    assert len(files) == 1, found
    return files[0]


def by_request(events: list[UsageEvent]) -> dict[object, tuple[str, object]]:
    """Each request (the kit dates request ``i`` at ``when(i)``) with its key and counts."""
    found: dict[object, tuple[str, object]] = {}
    for event in events:
        assert event.timestamp not in found, f"two events for one request: {events}"
        found[event.timestamp] = (event.key, (event.tokens, event.reported_cost_usd))
    return found


def keys(events: list[UsageEvent]) -> set[str]:
    return {e.key for e in events}


def counted(events: list[UsageEvent]) -> tuple[int, int]:
    """Input and output tokens the events hold, each count never negative."""
    for event in events:
        assert (event.tokens.input or 0) >= 0 and (event.tokens.output or 0) >= 0, event
    return (
        sum(e.tokens.input or 0 for e in events),
        sum(e.tokens.output or 0 for e in events),
    )


def worth(requests: int) -> tuple[int, int]:
    return requests * INPUT, requests * OUTPUT


def test_an_interrupted_sync_run_again_counts_every_request_once(
    agent: Agent, tmp_path: Path, isolated_home: Path
) -> None:
    kit, root, db = kit_of(agent), tmp_path / "logs", tmp_path / "ledger.db"
    path = kit.log_path(root)
    kit.add(path, 0, 2)
    if kit.storage == "lines":
        # the sync stopped in the middle of a line being written: the rest comes later
        kit.add(path, 2, 2)
        whole = path.read_bytes()
        cut = whole.rindex(b"\n", 0, len(whole) - 1) + 7
        path.write_bytes(whole[:cut])
        run(db, agent, [root], isolated_home)
        with open(path, "ab") as handle:
            handle.write(whole[cut:])
    else:
        run(db, agent, [root], isolated_home)
        kit.add(path, 2, 2)
    run(db, agent, [root], isolated_home)
    assert totals(db, agent) == expected(4, agent)
    # a sync killed before its cursors were kept reads everything again: no double
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM cursors")
    run(db, agent, [root], isolated_home)
    assert totals(db, agent) == expected(4, agent)


# -- bad input ------------------------------------------------------------------------------


def test_malformed_truncated_and_huge_records_are_skipped_with_a_reason(
    agent: Agent, tmp_path: Path, isolated_home: Path, request: pytest.FixtureRequest
) -> None:
    known_gap(request, "malformed", agent)
    kit, root, db = kit_of(agent), tmp_path / "logs", tmp_path / "ledger.db"
    path = kit.log_path(root)
    kit.add(path, 0, 2)
    kit.add_malformed(path)
    kit.add(path, 10, 1, input=1e20)
    kit.add(path, 11, 1, input=2**63)
    kit.add(path, 12, 1, input=2**64 + 1)
    if kit.storage == "lines":
        with open(path, "ab") as handle:
            handle.write(b'{"type": "assistant", "message": {"usa')  # truncated last line
    summary = run(db, agent, [root], isolated_home)
    assert summary.unreadable == []
    assert summary.new_by_source == {agent.name: 2}, summary
    bad_count = getattr(kit, "bad_count_reason", "invalid_count")
    assert summary.skips.counts.get(bad_count, 0) == 3, summary.skips
    assert summary.skips.total >= 4, summary.skips  # and the malformed record
    assert totals(db, agent) == expected(2, agent)
    again = run(db, agent, [root], isolated_home)
    assert again.new_events == 0


def test_a_fifo_or_a_link_to_a_device_named_like_a_log_is_skipped_with_a_reason(
    agent: Agent, tmp_path: Path, isolated_home: Path, request: pytest.FixtureRequest
) -> None:
    known_gap(request, "special", agent)
    kit = kit_of(agent)
    fifo, zero = kit.log_path(tmp_path / "a"), kit.log_path(tmp_path / "b")
    fifo.parent.mkdir(parents=True)
    zero.parent.mkdir(parents=True)
    os.mkfifo(fifo)  # hangs a reader that opens it
    zero.symlink_to("/dev/zero")  # never ends
    env = {
        **os.environ,
        "HOME": str(isolated_home),
        "TOKENTRAIL_DB": str(tmp_path / "ledger.db"),
        agent.override: os.pathsep.join((str(tmp_path / "a"), str(tmp_path / "b"))),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tokentrail", "sync", "--source", agent.name],
        env=env,
        capture_output=True,
        timeout=120,
        # a reader that reads /dev/zero runs out of memory here, not on the machine
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)),
    )
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, output
    assert "not_a_regular_file: 2" in output, output
    assert "(a FIFO)" in output and "(a character device)" in output, output


def test_an_unreadable_file_or_folder_is_reported_each_sync_and_read_once_readable(
    agent: Agent,
    shared_dir: Path,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    known_gap(request, "unreadable", agent)
    kit = kit_of(agent)
    home, db = shared_dir / "home", shared_dir / "ledger.db"
    home.mkdir()
    locked_file = kit.log_path(shared_dir / "one")
    locked_dir = kit.log_path(shared_dir / "two").parent
    kit.add(locked_file, 0, 2)
    kit.add(locked_dir / locked_file.name, 20, 3)
    roots = [shared_dir / "one", shared_dir / "two"]
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "nobody:nogroup", str(shared_dir)], check=True)

    def sync_as_user(into: Path = db) -> dict[str, Any]:
        summary = run(into, agent, roots, home)
        return {"new": summary.new_events, "unreadable": summary.unreadable}

    # warm up as ourselves, so every module is loaded before the child drops its rights
    assert sync_as_user(shared_dir / "warm-up.db")["new"] == 5
    locked_file.chmod(0)
    locked_dir.chmod(0)
    read_while_locked = 0  # what sits beside the locked file (Droid writes a file a request)
    for _ in range(2):  # reported on every sync, not once
        found = as_unprivileged(sync_as_user)
        reported = "\n".join(found["unreadable"])
        assert str(locked_file) in reported, reported
        assert f"{locked_dir}: cannot list this folder" in reported, reported
        read_while_locked += found["new"]
    locked_file.chmod(0o644)
    locked_dir.chmod(0o755)
    found = as_unprivileged(sync_as_user)
    assert found["unreadable"] == []
    assert read_while_locked + found["new"] == 5


def test_discovery_yields_files_of_this_agent(agent: Agent, tmp_path: Path) -> None:
    kit = kit_of(agent)
    kit.add(kit.log_path(tmp_path), 0, 1)
    files = list(agent.source().discover([tmp_path]))
    assert files and all(isinstance(f, SourceFile) and f.source == agent.name for f in files)


# -- every agent at once --------------------------------------------------------------------


def test_one_sync_of_a_home_holding_every_agent_reads_each_one(
    isolated_home: Path, db_path: Path
) -> None:
    for agent in AGENTS:
        kit = kit_of(agent)
        root = agent.source().default_roots({}, isolated_home)[0]
        log = kit.log_path(root)
        # a default root may be the log itself (a file the agent is told to write)
        kit.add(root if root.name == log.name else log, 0, 2)
    runner = CliRunner()

    first = runner.invoke(cli, ["sync", "-d", str(db_path), "--json"], catch_exceptions=False)
    again = runner.invoke(cli, ["sync", "-d", str(db_path), "--json"], catch_exceptions=False)

    assert first.exit_code == 0, first.output
    summary = orjson.loads(first.stdout)
    assert summary["new_by_source"] == {agent.name: 2 for agent in AGENTS}, summary
    assert (summary["skipped"], summary["unreadable"]) == ({}, []), summary
    assert orjson.loads(again.stdout)["new_events"] == 0
