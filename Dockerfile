# Switchboard engine image (needs BuildKit, the default builder; no remote syntax frontend).
#   docker build -t switchboard .
#   docker run --rm -e SWITCHBOARD_AMI_HOST=pbx -e SWITCHBOARD_AMI_SECRET=... \
#       -e SWITCHBOARD_REDIS_URL=redis://redis:6379/0 -p 8080:8080 switchboard
# Settings: /etc/switchboard/settings.yaml (the example, naming the example rule files next to it),
# SWITCHBOARD_* variables over it, or mount your own and set SWITCHBOARD_SETTINGS_FILE. Mount your
# rule files over /etc/switchboard/*.yaml. No API tokens are installed: mount a tokens file and set
# SWITCHBOARD_HTTP_TOKENS_FILE (`switchboard new-token`); until then every /api/ request gets 401.

# ---- builder: wheels for the project and every dependency -------------------
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY core ./core
COPY pbx ./pbx
COPY routing ./routing
COPY dialer ./dialer
COPY switchboard ./switchboard
COPY config ./config
# The exact versions of constraints.txt: a rebuild installs what was tested.
RUN pip wheel --constraint constraints.txt --wheel-dir /wheels .

# ---- runtime: slim, non-root, only the installed wheels ----------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SWITCHBOARD_HTTP_HOST=0.0.0.0 \
    SWITCHBOARD_HTTP_PORT=8080 \
    SWITCHBOARD_LOG_FORMAT=json \
    SWITCHBOARD_SETTINGS_FILE=/etc/switchboard/settings.yaml
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels switchboard \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin switchboard \
    && mkdir -p /etc/switchboard
COPY config/settings.example.yaml /etc/switchboard/settings.yaml
COPY config/routing.yaml config/campaigns.yaml config/dispositions.yaml config/tasks.yaml /etc/switchboard/
USER switchboard
EXPOSE 8080
# /healthz fails (503) once AMI has been down longer than ami.max_disconnected: a wedged
# engine turns unhealthy (restart it: orchestrator, liveness probe). /readyz is for load
# balancers. No curl in slim images: ask with Python itself (urlopen raises on a 503).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SWITCHBOARD_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["switchboard"]
CMD ["run"]
