# Immunobot: a slim, non-root image. The token is never baked in: pass DISCORD_TOKEN at run time.
# Either mode: SQLite on the /data volume (the default), or DATABASE_URL=postgresql://... with SHARD_COUNT and
# SHARD_IDS as one process of several (see deploy/compose.yaml).
#   docker build -t immunobot .
#   docker run -d --name immunobot -e DISCORD_TOKEN=... -v immunobot-data:/data immunobot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_PATH=/data/immunobot.db \
    HEALTH_FILE=/tmp/immunobot.health

RUN useradd --create-home --uid 10001 immunobot \
    && mkdir -p /data \
    && chown immunobot:immunobot /data

WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
COPY standin ./standin
COPY data ./data
# A regular install: the packages go to site-packages, the glossary data to /usr/local/share/immunobot/data.
RUN pip install --no-cache-dir . && rm -rf /build
WORKDIR /home/immunobot

USER immunobot
VOLUME ["/data"]

# The bot touches HEALTH_FILE every 30 s while connected to Discord.
HEALTHCHECK --interval=60s --timeout=10s --start-period=90s --retries=3 CMD ["python", "-m", "bot", "health"]

# Same entry point as `bash scripts/run.sh`: connects with DISCORD_TOKEN set.
CMD ["python", "-m", "bot"]
