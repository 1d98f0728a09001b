# rq-dashboard for `docker compose --profile dashboard up`: a small image of its own (no TensorFlow).
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH
# six: rq-dashboard 0.9 imports it without declaring it; rq pinned as the workers' (pyproject.toml).
RUN python -m venv /venv && /venv/bin/pip install "rq-dashboard>=0.8" six "rq>=2.12,<2.13"
USER nobody
CMD ["sh", "-c", "test -n \"$DASHBOARD_PASSWORD\" || { echo 'set DASHBOARD_PASSWORD in .env'; exit 1; }; exec rq-dashboard --bind 0.0.0.0 --port 9181 --redis-url \"$REDIS_URL\" --json --username \"$DASHBOARD_USER\" --password \"$DASHBOARD_PASSWORD\""]
