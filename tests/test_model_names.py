"""One model under one name (tokentrail.model_names): the alias rule and the filter's ids."""

from __future__ import annotations

import pytest

from tokentrail.model_names import aliases_of, model_alias, model_ids_of


@pytest.mark.parametrize(
    ("raw", "alias"),
    [
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-1", "claude-opus-4-1"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-5-codex", "gpt-5-codex"),
        ("gemini-2.5-pro", "gemini-2.5-pro"),
        ("model-12345678", "model-12345678"),  # not a date: kept
    ],
)
def test_a_dated_id_is_grouped_under_its_alias(raw: str, alias: str) -> None:
    assert model_alias(raw) == alias


def test_a_filter_on_either_name_matches_both() -> None:
    known = ["claude-opus-4-1", "claude-opus-4-1-20250805", "gpt-5"]
    both = ("claude-opus-4-1", "claude-opus-4-1-20250805")
    assert set(model_ids_of(["claude-opus-4-1"], known)) == set(both)
    assert set(model_ids_of(["claude-opus-4-1-20250805"], known)) == set(both)
    assert model_ids_of(["unknown-model"], known) == ("unknown-model",)
    assert model_ids_of([], known) == ()
    assert aliases_of(known) == ["claude-opus-4-1", "gpt-5"]
