# Production image: the `aftercare` CLI with runtime dependencies only.

# The triage's hot modules compiled with mypyc (service/triage/compiled.py), built where a
# C compiler is; the image below only copies the result.
FROM python:3.11 AS triage
ENV UV_PROJECT_ENVIRONMENT=/app/.venv UV_PYTHON_DOWNLOADS=never CI=true
WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --group compile --no-install-project
COPY service ./service
COPY scripts ./scripts
RUN .venv/bin/python scripts/compile_triage.py

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1
WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY service ./service
COPY templates ./templates
COPY migrations ./migrations
COPY alembic.ini ./
COPY --from=triage /app/build/triage ./build/triage
# The project's own modules are compiled too: with PYTHONDONTWRITEBYTECODE nothing is
# written at run time, so each process start would compile them again.
RUN uv sync --frozen --no-dev && .venv/bin/python -m compileall -q service migrations \
    && useradd --system --uid 10001 aftercare
USER aftercare
ENV PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["aftercare", "serve", "--host", "0.0.0.0", "--port", "8000"]
