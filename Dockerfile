# syntax=docker/dockerfile:1
# Switchboard engine image.
#   docker build -t switchboard .
#   docker run --rm -e SWITCHBOARD_AMI_HOST=pbx -e SWITCHBOARD_AMI_SECRET=... \
#       -e SWITCHBOARD_REDIS_URL=redis://redis:6379/0 -p 8080:8080 switchboard
# Settings: SWITCHBOARD_* variables, or mount a file and set SWITCHBOARD_SETTINGS_FILE.

# ---- builder: wheels for the project and every dependency -------------------
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY pbx ./pbx
COPY routing ./routing
COPY dialer ./dialer
COPY switchboard ./switchboard
RUN pip wheel --wheel-dir /wheels .

# ---- runtime: slim, non-root, only the installed wheels ----------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SWITCHBOARD_HTTP_HOST=0.0.0.0 \
    SWITCHBOARD_HTTP_PORT=8080 \
    SWITCHBOARD_LOG_FORMAT=json
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels switchboard \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin switchboard \
    && mkdir -p /etc/switchboard
COPY config/settings.example.yaml config/api-tokens.example.yaml /etc/switchboard/
USER switchboard
EXPOSE 8080
# /healthz fails (503) once AMI has been down longer than ami.max_disconnected: a wedged
# engine turns unhealthy (restart it: orchestrator, liveness probe). /readyz is for load
# balancers. No curl in slim images: ask with Python itself (urlopen raises on a 503).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SWITCHBOARD_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["switchboard"]
CMD ["run"]
