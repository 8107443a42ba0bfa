"""Qwen Code (``@qwen-code/qwen-code``): chat recordings in Gemini's usage shape."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="qwen",
    label="Qwen Code",
    short_label="qwen",
    colour="#615ced",
    order=60,
    override="TOKENTRAIL_QWEN_PATHS",
    reader="tokentrail.agents.qwen.reader:QwenSource",
    locations=(
        "`~/.qwen/projects/*/chats/*.jsonl`; Windows: `%USERPROFILE%\\.qwen\\projects\\*\\chats`"
    ),
    env=("QWEN_RUNTIME_DIR",),
)
