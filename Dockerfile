# The code-location image: one image for every shard's code server (HONEYFRAME_SHARD=i/n), the warehouse location
# and the run workers they launch (DefaultRunLauncher: same container; K8sRunLauncher: a pod of this image).
# Webserver and daemon come from Dagster's own images in the Helm chart (docs/deploy.md).
#   docker build -t honeyframe-code:TAG .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_DISABLE_TELEMETRY=yes \
    HONEYFRAME_HOME=/var/lib/honeyframe

# A user without a login or a home to write into but its own state folder.
RUN groupadd --system --gid 10001 honeyframe \
 && useradd --system --uid 10001 --gid honeyframe --no-create-home --shell /usr/sbin/nologin honeyframe \
 && mkdir -p /var/lib/honeyframe \
 && chown honeyframe:honeyframe /var/lib/honeyframe

WORKDIR /app
# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN mkdir honeyframe_dagster api \
 && touch honeyframe_dagster/__init__.py api/__init__.py \
 && pip install . \
 && pip uninstall --yes honeyframe-dagster
COPY honeyframe_dagster ./honeyframe_dagster
COPY api ./api
COPY dbt_project ./dbt_project
COPY examples ./examples
COPY dagster.yaml dagster.postgres.yaml workspace.yaml ./
# Editable: the package finds dbt_project/ and examples/ beside itself (settings.REPO_ROOT is /app). The dbt manifest
# is parsed now, not by every container start (a parse takes seconds); run_recipe writes dbt's target/ at run time.
RUN pip install --no-deps -e . \
 && HONEYFRAME_WAREHOUSE=/tmp/parse.duckdb python -c "from honeyframe_dagster.dbt import ensure_manifest; ensure_manifest()" \
 && rm -f /tmp/parse.duckdb \
 && chown -R honeyframe:honeyframe /app/dbt_project

USER honeyframe
EXPOSE 4000
# The product's code server, which reloads in place (docs/deploy.md); restart it on exit (`--restart unless-stopped`).
# One shard: set HONEYFRAME_SHARD=i/n and --location-name honeyframe_<i> (the Helm values in docs/deploy.md do).
CMD ["python", "-m", "honeyframe_dagster.services.code_server", "-m", "honeyframe_dagster.definitions", \
     "-h", "0.0.0.0", "-p", "4000", "--location-name", "honeyframe"]
