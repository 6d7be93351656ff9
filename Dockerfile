# The veiligheid-flow app image: the CLI (`veiligheid`) and the Prefect worker of server mode
# (docker-compose.yml). The project is pip-installed; rules/, config/, flows/ and prefect.yaml
# are copied next to it in /app, the working directory the deployments run in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The Prefect client (worker, flows, events) is exactly the server's version: the server image
# in docker-compose.yml is prefecthq/prefect:<this>-python3.11. pyproject keeps a lower bound.
ARG PREFECT_VERSION=3.9.1

# Dependencies and the package first (the slow layer), the data files after.
COPY pyproject.toml README.md ./
COPY veiligheid_flow ./veiligheid_flow
COPY flows ./flows
RUN pip install . "prefect==${PREFECT_VERSION}" && rm -rf build *.egg-info

COPY prefect.yaml ./
COPY rules ./rules
COPY config ./config

# Installed (not editable), so the settings' defaults would point into site-packages:
# name the folders here. The database, SMTP and Prefect URLs come from docker-compose.yml.
ENV VEILIGHEID_RULES=/app/rules \
    VEILIGHEID_PROGRAMME=/app/config/programma-huizen-2023-2024.yaml \
    VEILIGHEID_MAIL_DIR=/app/var/mail \
    PREFECT_HOME=/app/var/prefect

RUN useradd --create-home --uid 10001 --user-group veiligheid \
    && mkdir -p /app/var \
    && chown veiligheid:veiligheid /app/var
USER veiligheid

ENTRYPOINT ["veiligheid"]
CMD ["--help"]
