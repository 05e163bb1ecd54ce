# birdbridge: the daemon in a small image. State lives on the /data volume (SQLite), or in
# PostgreSQL when DATABASE_URL is set. Config: /data/birdbridge.toml, or BIRDBRIDGE_CONFIG_TOML.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BIRDBRIDGE_CONFIG=/data/birdbridge.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The README's install, without the test extra.
RUN pip install . && useradd --create-home --uid 10001 birdbridge \
    && mkdir -p /data && chown birdbridge /data

USER birdbridge
WORKDIR /data
VOLUME ["/data"]
CMD ["birdbridge", "run"]
