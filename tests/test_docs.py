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
