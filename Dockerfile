# syntax=docker/dockerfile:1
# Otvet's container image: one image for every service (`otvet serve|api|worker|telegram|migrate`).
#
#   docker build -t otvet:0.1.0 .
#   docker run --rm -p 8000:8000 otvet:0.1.0                 # `otvet serve` on SQLite in /var/lib/otvet
#   docker run --rm otvet:0.1.0 worker                       # any other command: `otvet worker`, ...
#
# Two stages: `build` makes wheels of Otvet and of every dependency (compilers live only there); `runtime`
# installs exactly those wheels, offline, into /opt/otvet and runs as an unprivileged numeric user, so it
# also works under Kubernetes' runAsNonRoot and with a read-only root filesystem (writable: /tmp and the
# data dir). docs/deploy/docker.md explains each choice.

# Debian bookworm, named by tag rather than digest so security updates arrive with a rebuild; pin a digest
# (python:3.11-slim-bookworm@sha256:...) in your own CI if you need bit-for-bit repeatable builds.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Every dependency has wheels for linux/amd64 and linux/arm64 today; the compilers are here in case a new
# release does not, so that such a wheel is built in this stage and never at runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The locked versions of every dependency and of the optional groups the image can have
# (requirements/image.txt: `tracing`, `languages`), read alone: reused until the lock file changes.
COPY requirements/image.txt ./requirements/
RUN pip wheel --wheel-dir /wheels -r requirements/image.txt
# Then Otvet itself. The in-tree build backend (tools/build_backend.py) compiles the gettext catalogs.
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && ls /wheels/otvet-*.whl

FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
# Optional dependency groups installed: `tracing` lets OTVET_TRACING__EXPORTER=otlp work; add `languages`
# (96 MB) to offer languages that share a writing system, such as English and German; empty for none.
ARG OTVET_EXTRAS=tracing
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Otvet" \
      org.opencontainers.image.description="A plugin-based question-answering bot framework: Telegram, GraphQL, a web widget and an OpenAI-compatible endpoint over one dialogue engine." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/otvet/bin:$PATH \
    HOME=/tmp \
    OTVET_DATA_DIR=/var/lib/otvet \
    OTVET_HOST=0.0.0.0 \
    OTVET_PORT=8000 \
    OTVET_OPS__HOST=0.0.0.0 \
    OTVET_OPS__PORT=9000
# The wheels are bind-mounted from the build stage, so none of them stays in a layer of this image; pip
# installs them offline (--no-index), so only the locked versions can be chosen: nothing is downloaded or
# built here, only bytecode is compiled (the
# containers cannot write it later: read-only root filesystem). `pip check` fails the build
# on a dependency conflict instead of at the first import in production.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/otvet \
    && /opt/otvet/bin/pip install --no-index --find-links=/wheels --compile "otvet[${OTVET_EXTRAS}]" \
    && /opt/otvet/bin/pip check \
    && groupadd --gid 10001 otvet \
    && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin otvet \
    && mkdir -p /var/lib/otvet /etc/otvet \
    && chown 10001:10001 /var/lib/otvet \
    && chmod 0750 /var/lib/otvet
# SQLite (`otvet serve`) and the generated secret.key live here; with PostgreSQL and OTVET_API__SECRET_KEY
# nothing needs to persist, and an emptyDir or tmpfs is enough.
VOLUME ["/var/lib/otvet"]
# Settings read .env and otvet.toml from the working directory: mount one here (read-only) if you like.
WORKDIR /etc/otvet
USER 10001:10001
# 8000: serve and api (HTTP, WebSocket, /metrics); 9000: the ops listener of worker and telegram.
EXPOSE 8000 9000
# No curl in the image: Python's urllib asks /healthz on the main port, else on the ops port, so one check
# fits every service (a worker listens only on 9000). Over HTTPS when Otvet terminates TLS itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, ssl, sys, urllib.request\ntls = bool(os.environ.get('OTVET_TLS__CERT_FILE'))\nctx = ssl._create_unverified_context() if tls else None\nports = [os.environ.get('OTVET_PORT') or '8000', os.environ.get('OTVET_OPS__PORT') or '9000']\ndef ok(port):\n    url = ('https' if tls else 'http') + '://127.0.0.1:' + port + '/healthz'\n    try:\n        return urllib.request.urlopen(url, timeout=4, context=ctx).status == 200\n    except OSError:\n        return False\nsys.exit(0 if any(ok(port) for port in ports) else 1)\n"]
ENTRYPOINT ["otvet"]
CMD ["serve", "--host", "0.0.0.0"]
