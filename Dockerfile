# CPU image of ofa-deploy with the `ofa` command as entry point.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends openssh-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/ofa-deploy
# CPU build of torch first, so the pinned torch==2.13.0 is not resolved to a CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY ofa ./ofa
COPY latency ./latency
COPY devices ./devices
COPY export ./export
RUN pip install '.[tflite,report]'

WORKDIR /work
ENTRYPOINT ["ofa"]
CMD ["--help"]
