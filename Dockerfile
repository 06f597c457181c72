# Reelforge's image: one image for the API and the workers. compose.yaml runs it as
# `reelforge serve` and `reelforge worker`, the same commands scripts/stack runs; settings come
# from REELFORGE_* variables (see docs/deploy.md and .env.example).
# This file was written on machines that cannot build containers: it has not been built yet.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/reelforge
WORKDIR /src
# constraints.txt (exact pins of every package, if the repository has it) travels with
# pyproject.toml; the glob lets this line work without it. Without it, the install resolves
# pyproject.toml's own pins (the direct dependencies are exact; their dependencies are not).
COPY pyproject.toml README.md LICENSE constraints.tx[t] ./
COPY src ./src
# The faces extra bakes the dlib face models (about 95 MB) into the image.
RUN if [ -f constraints.txt ]; then \
      /opt/reelforge/bin/pip install --constraint constraints.txt ".[faces]"; \
    else \
      /opt/reelforge/bin/pip install ".[faces]"; \
    fi

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 reelforge \
    && useradd --system --uid 10001 --gid reelforge --home-dir /var/lib/reelforge \
       --create-home --shell /usr/sbin/nologin reelforge
COPY --from=build /opt/reelforge /opt/reelforge
ENV PATH=/opt/reelforge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REELFORGE_DATA_DIR=/var/lib/reelforge \
    REELFORGE_SERVER__HOST=0.0.0.0 \
    REELFORGE_SERVER__PORT=8000
USER reelforge
WORKDIR /var/lib/reelforge
EXPOSE 8000
# The API's liveness: /healthz needs no token and no database. Workers serve no HTTP, so
# compose.yaml turns this check off for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('REELFORGE_SERVER__PORT', '8000') + '/healthz', timeout=4)"]
CMD ["reelforge", "serve"]
