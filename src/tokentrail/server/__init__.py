"""The ``tokentrail serve`` app: the REST API under ``/api/v1`` (see docs/http-api.md).

Importing this package loads nothing heavy: the app is built by
:func:`tokentrail.server.app.create_app`, and :mod:`tokentrail.server.limits` holds the
numbers clients share with it.
"""
