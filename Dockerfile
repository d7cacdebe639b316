# The Stadtpuls services (ingest, api, processing) in one image; the command picks the service:
#   docker run IMAGE ingest
#   docker run IMAGE api --host 0.0.0.0 --port 8000
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STADTPULS_DATA_DIR=/var/lib/stadtpuls

WORKDIR /src
COPY . .
RUN pip install '.[postgres]' \
    && useradd --system --home-dir /var/lib/stadtpuls --create-home stadtpuls

USER stadtpuls
WORKDIR /var/lib/stadtpuls
ENTRYPOINT ["stadtpuls"]
CMD ["--help"]
