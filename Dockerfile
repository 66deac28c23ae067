# The ethics-audit Airflow image: the official Airflow image of the same Airflow and Python
# version as requirements.txt pins, plus the pinned dependencies and this repository's code.
# docker-compose.yml builds it; dags/, plugins/ and audits/ are also mounted over the copies.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
# no telemetry from Airflow, Great Expectations or anything honouring DO_NOT_TRACK
ENV AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=false \
    SCARF_ANALYTICS=false \
    DO_NOT_TRACK=1 \
    GX_ANALYTICS_ENABLED=false \
    PYTHONPATH=/opt/airflow/plugins \
    ETHICS_AUDIT_HOME=/opt/ethics_audit \
    ETHICS_AUDIT_SPECS_DIR=/opt/airflow/audits

COPY --chown=airflow:0 requirements.txt /requirements.txt
# naming apache-airflow again keeps pip from moving Airflow itself; pip check fails the build
# if a pin disagrees with a provider the official image ships (celery, fab, postgres, redis)
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt \
 && pip check

COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 audits/ /opt/airflow/audits/
USER root
RUN mkdir -p /opt/ethics_audit && chown -R airflow:0 /opt/ethics_audit && chmod -R g+rwX /opt/ethics_audit
USER airflow
