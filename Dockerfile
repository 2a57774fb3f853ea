# The chaos-harness image: the harness (DNS server, DynamoDB regions, control API), the sample app
# and the drill runner are the same installed package, started with different commands
# (see docker-compose.yml and docs/docker.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md* ./
COPY harness ./harness
COPY faults ./faults
COPY sample_app ./sample_app
RUN pip install . && rm -rf /src

WORKDIR /work
CMD ["chaos-harness", "--help"]
