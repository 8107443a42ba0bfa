from __future__ import annotations

from types import SimpleNamespace

import pytest

from tokentrail.ingest import InvalidUsage
from tokentrail.providers import anthropic_usage, gemini_usage, openai_usage
from tokentrail.usage import Tokens


def test_anthropic_input_excludes_cache_and_splits_writes() -> None:
    response = SimpleNamespace(
        usage=SimpleNamespace(
            input_tokens=12,
            cache_read_input_tokens=30_000,
            cache_creation_input_tokens=2_000,
            cache_creation=SimpleNamespace(
                ephemeral_5m_input_tokens=500, ephemeral_1h_input_tokens=1_500
            ),
            output_tokens=300,
        )
    )
    assert anthropic_usage(response) == Tokens(
        input=12, cache_read=30_000, cache_write_5m=500, cache_write_1h=1_500, output=300
    )
    assert anthropic_usage(
        {"input_tokens": 1, "cache_creation_input_tokens": 9, "output_tokens": 2}
    ) == Tokens(input=1, cache_write_5m=9, output=2)


def test_openai_chat_cached_inside_prompt_reasoning_inside_output() -> None:
    chat = {
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 800},
            "completion_tokens_details": {"reasoning_tokens": 200},
        }
    }
    assert openai_usage(chat) == Tokens(input=200, cache_read=800, output=300, reasoning=200)


def test_openai_responses_and_codex_shapes() -> None:
    responses = {
        "usage": {
            "input_tokens": 50,
            "output_tokens": 10,
            "input_tokens_details": {"cached_tokens": 40},
            "output_tokens_details": {"reasoning_tokens": 4},
        }
    }
    assert openai_usage(responses) == Tokens(input=10, cache_read=40, output=10, reasoning=4)
    codex = {
        "input_tokens": 3000,
        "cached_input_tokens": 2500,
        "output_tokens": 90,
        "reasoning_output_tokens": 60,
        "total_tokens": 3090,
    }
    assert openai_usage(codex) == Tokens(input=500, cache_read=2500, output=90, reasoning=60)


def test_gemini_cached_inside_prompt_thoughts_billed_as_output() -> None:
    response = SimpleNamespace(
        usage_metadata=SimpleNamespace(
            prompt_token_count=1200,
            cached_content_token_count=1000,
            candidates_token_count=80,
            thoughts_token_count=120,
            tool_use_prompt_token_count=None,
        )
    )
    assert gemini_usage(response) == Tokens(input=200, cache_read=1000, output=200, reasoning=120)
    as_json = {"usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5}}
    assert gemini_usage(as_json) == Tokens(input=10, output=5)


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(InvalidUsage, match="more than input"):
        openai_usage({"input_tokens": 5, "cached_input_tokens": 9, "output_tokens": 1})
    with pytest.raises(InvalidUsage, match="output_tokens"):
        anthropic_usage({"input_tokens": 1, "output_tokens": -3})
