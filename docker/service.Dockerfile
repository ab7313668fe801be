# syntax=docker/dockerfile:1
#
# The lookup service image (feature_store/service, docs/service.md): `python -m
# feature_store.service` under uvicorn, answering from the recommendations published to Redis.
# Build from the repository root:
#
#   docker build -f docker/service.Dockerfile -t electroshop-recsys-lookup .
#
# Only what the service needs: the packages it imports (recsys, feature_store, and tagging for
# the tag taxonomy) and the share of pyproject.toml's pins they import. No Airflow, TensorFlow,
# FAISS or Great Expectations: the batch side needs them, the service never loads them
# (tests/unit/test_docker.py starts the service with everything else made unimportable).
# Nothing secret is in the image: RECSYS_REDIS_URL and the keys come from the environment.
FROM python:3.11-slim

# Distribution names; their versions come from pyproject.toml (requirements_from_pyproject.py).
ARG SERVICE_PACKAGES="fastapi uvicorn redis pydantic pydantic-settings prometheus-client xxhash numpy pandas pyarrow jsonschema"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECSYS_SERVICE_HOST=0.0.0.0 \
    RECSYS_SERVICE_PORT=8000

# The service's user (no home, no shell): numeric in USER below, so that a runtime can tell it
# is not root without reading /etc/passwd.
RUN useradd --no-log-init --system --uid 10001 --user-group --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin recsys

WORKDIR /opt/recsys

COPY pyproject.toml README.md ./
COPY docker/requirements_from_pyproject.py /tmp/
RUN python /tmp/requirements_from_pyproject.py pyproject.toml "${SERVICE_PACKAGES}" > /tmp/requirements.txt \
    && pip install --no-cache-dir --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt /tmp/requirements_from_pyproject.py

# Installed as `make install` does (compat editable mode), without the batch side's
# dependencies; owned by root, so the service's user cannot change its code.
COPY recsys ./recsys
COPY feature_store ./feature_store
COPY tagging ./tagging
RUN pip install --no-cache-dir --no-deps --editable . --config-settings editable_mode=compat

USER 10001:10001

EXPOSE 8000

# Liveness (/healthz): the process answers. /readyz also needs Redis and a published version.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('RECSYS_SERVICE_PORT', '8000') + '/healthz', timeout=3)"]

CMD ["python", "-m", "feature_store.service"]
