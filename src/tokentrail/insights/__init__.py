"""Insights computed from the ledger (usage, sessions and the tool calls read from the agents'
logs), never by re-reading logs; every score is defined in docs/insights.md, and a score
whose inputs are missing is None ("not reported"), never 0. This package imports nothing
itself (a command imports only the module it uses):

- :mod:`~tokentrail.insights.tools`: tool usage per tool name (and session);
- :mod:`~tokentrail.insights.efficiency`: lines changed, cost and tokens per changed line,
  cache efficiency, per session, project or model;
- :mod:`~tokentrail.insights.sessions`: a session's summary sentence, its token timeline, and
  the tool figures of its page and API detail.
"""
