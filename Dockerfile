# The Stadtpuls services (ingest, processing, api, simulate) in one image; the command picks the service:
#   docker run IMAGE ingest
#   docker run IMAGE api --host 0.0.0.0 --port 8000
# Two stages: the first installs the package and its dependencies into a virtual environment, the second
# holds only that environment on a slim Python, run by an unprivileged user. .dockerignore lets only the
# package sources into the build context (no .env, no tests, no docs).

FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
RUN python -m venv /opt/stadtpuls
COPY pyproject.toml README.md constraints.txt ./
COPY stadtpuls/ stadtpuls/
COPY ingest/ ingest/
COPY processing/ processing/
COPY api/ api/
COPY devices/ devices/
COPY dashboards/ dashboards/
COPY firmware_sim/ firmware_sim/
# the versions of constraints.txt (make lock), the same the tests ran with
RUN /opt/stadtpuls/bin/pip install -c constraints.txt '.[postgres]' \
    && /opt/stadtpuls/bin/pip uninstall --yes pip


FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/stadtpuls/bin:$PATH \
    STADTPULS_DATA_DIR=/var/lib/stadtpuls

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/stadtpuls --create-home stadtpuls
COPY --from=build /opt/stadtpuls /opt/stadtpuls

USER stadtpuls
WORKDIR /var/lib/stadtpuls
ENTRYPOINT ["stadtpuls"]
CMD ["--help"]
