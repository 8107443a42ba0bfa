"""OpenTelemetry (OTLP) exports of coding agents, turned into ledger events.

- :mod:`~tokentrail.otlp.wire`: media types, gzip, decoding requests, export and error
  responses;
- :mod:`~tokentrail.otlp.batch`: :class:`~tokentrail.otlp.batch.OtlpBatch`, attribute readers
  and what each agent's ``otel`` module maps its events with;
- :mod:`~tokentrail.otlp.mapping`: logs, traces and metrics mapped onto a batch (what each agent
  sends is in its docstring), and :func:`~tokentrail.otlp.mapping.record`.

This package imports only the error below, so importing one module costs only that module.
"""

from tokentrail.errors import OtlpDecodeError as OtlpDecodeError  # its home before errors.py
