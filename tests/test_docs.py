from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen", ROOT / "docs" / "generate_cli_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "cli.md").read_text() == module.render(), (
        "docs/cli.md is out of date: run python docs/generate_cli_reference.py"
    )


def test_readme_links_point_at_files() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(((?:docs|bench)/[^)#]+)\)", readme):
        assert (ROOT / target).exists(), target


def test_readme_says_how_to_run_the_postgresql_tests_as_their_skip_reason_does() -> None:
    import pgtest

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Run the tests") : readme.index("## Quick start")]
    command = f"{pgtest.ENV}={pgtest.EXAMPLE_URL} pytest"
    assert command in section
    assert command in pgtest.SKIP_REASON and "README: Run the tests" in pgtest.SKIP_REASON


def agents_table() -> str:
    """The README's "Where tokentrail looks" table and note, from the agent registry."""
    from tokentrail.agents import all_agents

    agents = all_agents()
    rows = [
        f"| {a.heading} | {a.locations} | {a.moved_by or ', '.join(f'`{v}`' for v in a.env)} |"
        for a in agents
    ]
    overrides = ", ".join(f"`{a.override}`" for a in agents)
    return "\n".join(
        [
            "| agent | default location | moved by |",
            "| --- | --- | --- |",
            *rows,
            "",
            "A missing folder just means that agent is not installed; one tokentrail may not"
            " list or read (or a FIFO or device named like a log) is reported by every sync."
            f" Each location can also be replaced by {overrides} (`:`-separated, `;` on"
            " Windows) or by the configuration file.",
        ]
    )


def test_readme_lists_every_registered_agent_as_the_registry_does() -> None:
    """The table is generated: run ``python tests/test_docs.py`` after adding an agent."""
    readme = (ROOT / "README.md").read_text()
    start = "<!-- agents table: generated from tokentrail.agents by tests/test_docs.py -->\n"
    end = "\n<!-- end of agents table -->"
    current = readme[readme.index(start) + len(start) : readme.index(end)]
    assert current == agents_table(), "run: python tests/test_docs.py"


SOURCE_ROW = "| `--source NAME` |"


def source_option_row() -> str:
    """The README's ``--source NAME`` row (a row of a table: no markers around it)."""
    from tokentrail.agents import agent_names

    names = ", ".join(f"`{name}`" for name in agent_names())
    return (
        f"{SOURCE_ROW} an agent tokentrail reads ({names}, in any letter case), `sdk` (the HTTP"
        " API's default), or another name usage was reported under; a name the ledger has never"
        " seen is refused (repeatable) |"
    )


def with_source_option_row(readme: str) -> str:
    lines = readme.split("\n")
    rows = [index for index, line in enumerate(lines) if line.startswith(SOURCE_ROW)]
    assert len(rows) == 1, f"README.md needs one row starting {SOURCE_ROW}"
    lines[rows[0]] = source_option_row()
    return "\n".join(lines)


def test_readme_source_option_lists_every_registered_agent() -> None:
    """The row is generated: run ``python tests/test_docs.py`` after adding an agent."""
    readme = (ROOT / "README.md").read_text()
    assert readme == with_source_option_row(readme), "run: python tests/test_docs.py"


def test_counting_md_has_a_section_per_registered_agent() -> None:
    from tokentrail.agents import all_agents

    counting = (ROOT / "docs" / "counting.md").read_text()
    missing = [a.heading for a in all_agents() if f"\n## {a.heading}\n" not in counting]
    assert missing == []


if __name__ == "__main__":
    readme_path = ROOT / "README.md"
    text = readme_path.read_text()
    begin = "<!-- agents table: generated from tokentrail.agents by tests/test_docs.py -->\n"
    stop = "\n<!-- end of agents table -->"
    head, tail = text[: text.index(begin) + len(begin)], text[text.index(stop) :]
    readme_path.write_text(with_source_option_row(head + agents_table() + tail))
