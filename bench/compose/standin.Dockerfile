# The test suite's Telegram Bot API stand-in as a compose service, for bench/compose_e2e.sh only.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH
RUN python -m venv /venv && /venv/bin/pip install "aiohttp>=3.9"
WORKDIR /app
COPY tests/__init__.py tests/telegram_standin.py tests/
COPY sentibot/__init__.py sentibot/processes.py sentibot/
CMD ["python", "-m", "tests.telegram_standin", "--serve", "--host", "0.0.0.0", "--port", "8081"]
