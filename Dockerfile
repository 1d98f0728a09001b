# One image for bot, worker and trainer; docker-compose.yml picks the command.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
# Dependencies first: this layer is reused until pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir -p sentibot bot worker model && touch sentibot/__init__.py bot/__init__.py worker/__init__.py model/__init__.py \
    && pip install . && pip uninstall -y sentibot
COPY sentibot sentibot
COPY bot bot
COPY worker worker
COPY model model
RUN pip install --no-deps .

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 SENTIBOT_HOME=/data
COPY --from=build /venv /venv
RUN useradd --create-home --uid 10001 sentibot && mkdir /data && chown sentibot /data
USER sentibot
WORKDIR /home/sentibot
CMD ["sentibot", "bot"]
