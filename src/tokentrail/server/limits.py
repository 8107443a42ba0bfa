"""The API's limits, shared by the server and :mod:`tokentrail.client` (no imports here, so
the client does not pull in the server's dependencies)."""

from __future__ import annotations

API_VERSION = 1
API_PREFIX = "/api/v1"

MAX_BATCH_EVENTS = 1000
"""Most events one ``POST /api/v1/events`` may carry; larger lists get 413."""

MAX_BODY_BYTES = 5 * 1024 * 1024
"""Largest request body accepted, in bytes (5 MiB); larger bodies get 413."""

MAX_SESSIONS_LIMIT = 1000
"""Largest ``limit`` of ``GET /api/v1/sessions`` and ``GET /api/v1/runs``."""

MAX_NOTE_LENGTH = 2000
"""Longest free text (a run's reason, a session's title)."""

DEFAULT_PORT = 8787
