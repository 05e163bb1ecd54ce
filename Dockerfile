# birdbridge: the daemon in a small image. State lives on the /data volume (SQLite), or in
# PostgreSQL when DATABASE_URL is set. Config: ./birdbridge.toml in the working directory /data,
# or the whole file in BIRDBRIDGE_CONFIG_TOML, or a path in BIRDBRIDGE_CONFIG (README: Configure).
# The image sets no config variable on purpose: one set here would hide BIRDBRIDGE_CONFIG_TOML.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BIRDBRIDGE_HTTP_HOST=0.0.0.0 \
    BIRDBRIDGE_ON_CONFIG_ERROR=wait \
    PORT=8080

WORKDIR /app
COPY pyproject.toml README.md LICENSE constraints.txt requirements.txt ./
COPY src ./src
# The PaaS recipe (requirements.txt: birdbridge with every dependency pinned by
# constraints.txt), without the test extra: a reproducible build. ffmpeg is optional (video
# transcoding); add it with:
# apt-get update && apt-get install -y --no-install-recommends ffmpeg
RUN pip install -r requirements.txt && useradd --create-home --uid 10001 birdbridge \
    && mkdir -p /data && chown birdbridge /data

USER birdbridge
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers 200 only while the scheduler runs and the database answers. The probe loads
# the config as `birdbridge run` does, so it asks the port the daemon listens on ([bridge]
# http_port, else PORT). It exits 2 on a config problem; Docker reserves 2 ("do not use",
# Dockerfile reference: HEALTHCHECK), hence `|| exit 1`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -m birdbridge.healthcheck || exit 1
CMD ["birdbridge", "run"]
