"""``python -m feature_store.service``: run the lookup service under uvicorn, as settings say."""

from __future__ import annotations

import logging.config
import os
import shutil
import sys
import tempfile

from recsys.errors import SettingsError
from recsys.settings import load_settings

# Given to uvicorn, so that every worker process (spawned, not forked) logs the same way.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    # Off: a line per request costs more CPU than the lookup itself (docs/service.md, Privacy).
    "loggers": {"feature_store.service.access": {"level": "WARNING"}},
}


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.config.dictConfig(LOGGING)
    made_dir = None
    if settings.service_workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers are separate processes: prometheus_client needs a shared directory, set
        # before it is imported (the workers inherit the environment).
        made_dir = tempfile.mkdtemp(prefix="recsys-service-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made_dir
    import uvicorn

    try:
        uvicorn.run(
            "feature_store.service.app:create_app",
            factory=True,
            host=settings.service_host,
            port=settings.service_port,
            workers=settings.service_workers,
            access_log=False,  # uvicorn's access log holds raw paths, i.e. user ids; Timing logs templates
            log_config=LOGGING,
        )
    finally:
        if made_dir is not None:
            shutil.rmtree(made_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
