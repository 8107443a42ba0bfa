"""Every error tokentrail raises on purpose is in one tree (tokentrail.errors)."""

from __future__ import annotations

import importlib

import pytest

from tokentrail import errors


@pytest.mark.parametrize(
    ("home", "name"),
    [
        ("tokentrail", "InvalidUsage"),
        ("tokentrail.ingest", "InvalidUsage"),
        ("tokentrail.ledger", "UnknownRun"),
        ("tokentrail.otlp", "OtlpDecodeError"),
        ("tokentrail.sources.base", "BadRecord"),
        ("tokentrail.client", "ClientError"),
    ],
)
def test_each_error_is_in_the_tree_and_where_it_was(home: str, name: str) -> None:
    error = getattr(importlib.import_module(home), name)
    assert error is getattr(errors, name)
    assert issubclass(error, errors.TokentrailError)


def test_the_documented_tree_is_the_real_one() -> None:
    from pathlib import Path

    documented = (Path(__file__).parent.parent / "docs" / "architecture.md").read_text()
    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, errors.TokentrailError):
            assert f"── {name}" in documented or name == "TokentrailError", name
            assert f"── {name} " in (errors.__doc__ or "") or name == "TokentrailError", name
