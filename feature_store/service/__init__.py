"""The lookup service: an HTTP API over the recommendations published in Redis (docs/service.md).

``app.create_app(settings)`` builds the ASGI app; ``python -m feature_store.service`` (``make
serve``) runs it under uvicorn with ``RECSYS_SERVICE_WORKERS`` and ``RECSYS_SERVICE_PORT``.
"""
