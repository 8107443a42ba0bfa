"""The analytics: the ledger's reports as typed rows, one module per kind of report.

No formatting here: the CLI, the API and exports all render these same rows, so every face
shows the same numbers. Reports read the store's rollups, never raw events. This package
imports nothing itself (a command imports only the modules it uses):

- :mod:`~tokentrail.reports.query`: :class:`ReportQuery` (what a report covers) and the rules
  every report shares (period labels, time ranges, timestamps in JSON);
- :mod:`~tokentrail.reports.counting`: the one session count, a session's runtime, name and
  models (docs/counting.md);
- :mod:`~tokentrail.reports.periods`: daily, weekly, monthly and per-session reports;
- :mod:`~tokentrail.reports.runs`: orchestrators' summary (all time, today, the current run)
  and runs;
- :mod:`~tokentrail.reports.sessions`: lists of sessions, sorted pages, one session in detail;
- :mod:`~tokentrail.reports.reconciliation`: the ledger beside log files, OpenTelemetry and
  metrics;
- :mod:`~tokentrail.reports.spend`: spend by source, model, project or machine;
- :mod:`~tokentrail.reports.charts`: the heatmap, the token timeline, daily cost by model;
- :mod:`~tokentrail.reports.overview`: the dashboard's overview, every block in one pass.
"""
