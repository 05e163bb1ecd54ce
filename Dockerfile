# birdbridge: the daemon in a small image. State lives on the /data volume (SQLite), or in
# PostgreSQL when DATABASE_URL is set. Config: /data/birdbridge.toml, or BIRDBRIDGE_CONFIG_TOML.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BIRDBRIDGE_CONFIG=/data/birdbridge.toml \
    BIRDBRIDGE_HTTP_HOST=0.0.0.0 \
    PORT=8080

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
# The README's install, without the test extra, with every dependency pinned by
# constraints.txt (a reproducible build). ffmpeg is optional (video transcoding); add it with:
# apt-get update && apt-get install -y --no-install-recommends ffmpeg
RUN pip install -c constraints.txt . && useradd --create-home --uid 10001 birdbridge \
    && mkdir -p /data && chown birdbridge /data

USER birdbridge
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers 200 only while the scheduler runs and the database answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=4)"]
CMD ["birdbridge", "run"]
