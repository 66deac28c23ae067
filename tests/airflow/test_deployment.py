"""docker-compose.yml, Dockerfile and .env.example, checked by parsing them against the code.

No Docker engine runs here, so the files are read as data: the services and their commands,
health checks and start order, the mounts the DAG files expect, the connection ids and
environment variables the code reads, and the versions the image is built from.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import pytest
import sqlalchemy as sa
import yaml
from airflow_support import REPO

from ethics_audit import connections
from ethics_audit.airflow import dags

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
ENV_EXAMPLE = dict(
    line.split("=", 1)
    for line in (REPO / ".env.example").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


def env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service]["environment"].items()}


def mounts(service: str) -> dict[str, str]:
    """container path -> source (with ${ETHICS_AUDIT_PROJ_DIR:-.} read as the repo)."""
    out = {}
    for volume in SERVICES[service]["volumes"]:
        source, target = volume.replace("${ETHICS_AUDIT_PROJ_DIR:-.}", ".").split(":")[:2]
        out[target] = source
    return out


def test_the_services_of_airflows_compose_and_a_separate_results_database() -> None:
    assert set(SERVICES) == {"postgres", "results-db", "redis", "airflow-init", "airflow-cli", *AIRFLOW}
    for service, command in AIRFLOW.items():
        assert SERVICES[service]["command"] == command
        assert SERVICES[service]["build"] == "." and SERVICES[service]["image"] == SERVICES["airflow-init"]["image"]
    common = env("airflow-scheduler")
    assert common["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    metadata = sa.engine.make_url(re.sub(r"\$\{[^}]*\}", "x", common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
    assert metadata.host == "postgres" and metadata.database == SERVICES["postgres"]["environment"]["POSTGRES_DB"]
    assert common["AIRFLOW__CELERY__BROKER_URL"].endswith("@redis:6379/0")
    example = connections.parse_connection(ENV_EXAMPLE["AIRFLOW_CONN_ETHICS_AUDIT_DB"])
    results = sa.engine.make_url(connections.url_from_fields(example, "ethics_audit_db"))
    db = SERVICES["results-db"]["environment"]
    assert (results.host, results.port, results.username, results.database) == (
        "results-db",
        5432,
        db["POSTGRES_USER"],
        db["POSTGRES_DB"],
    )
    assert results.drivername == "postgresql+psycopg"


def test_every_long_running_service_has_a_health_check_and_starts_after_init() -> None:
    from airflow.jobs.dag_processor_job_runner import DagProcessorJobRunner
    from airflow.jobs.triggerer_job_runner import TriggererJobRunner

    for service in ("postgres", "results-db", "redis", *AIRFLOW):
        check = SERVICES[service]["healthcheck"]["test"]
        assert check[0] in ("CMD", "CMD-SHELL") and len(check) >= 2, service
    for service in AIRFLOW:
        needs = SERVICES[service]["depends_on"]
        assert needs["airflow-init"] == {"condition": "service_completed_successfully"}, service
        for backing in ("postgres", "redis", "results-db"):
            assert needs[backing] == {"condition": "service_healthy"}, (service, backing)
    assert SERVICES["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}
    # the checks probe what the services really serve
    assert "http://localhost:8974/health" in SERVICES["airflow-scheduler"]["healthcheck"]["test"]
    assert env("airflow-scheduler")["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert SERVICES["airflow-apiserver"]["ports"] == ["${AIRFLOW_API_PORT:-8080}:8080"]
    assert "http://localhost:8080/api/v2/version" in SERVICES["airflow-apiserver"]["healthcheck"]["test"]
    assert (
        env("airflow-worker")["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    )
    assert (
        f"--job-type {DagProcessorJobRunner.job_type} " in SERVICES["airflow-dag-processor"]["healthcheck"]["test"][1]
    )
    assert f"--job-type {TriggererJobRunner.job_type} " in SERVICES["airflow-triggerer"]["healthcheck"]["test"][1]
    assert env("airflow-init")["_AIRFLOW_DB_MIGRATE"] == "true"
    init = SERVICES["airflow-init"]["command"][1]
    assert "Store(results_db_url())" in init and "/entrypoint airflow version" in init


def test_the_mounts_are_where_the_dag_files_and_the_library_look() -> None:
    for service in (*AIRFLOW, "airflow-init"):
        paths, variables = mounts(service), env(service)
        assert paths[variables["AIRFLOW__CORE__DAGS_FOLDER"]] == "./dags"
        assert paths[variables["AIRFLOW__CORE__PLUGINS_FOLDER"]] == "./plugins"
        assert variables["PYTHONPATH"] == variables["AIRFLOW__CORE__PLUGINS_FOLDER"]
        assert paths[variables[dags.SPECS_DIR_ENV]] == "./audits"
        # staged windows are shared by every worker: a named volume, not a container's own disk
        assert paths[variables["ETHICS_AUDIT_HOME"]] == "ethics-audit-home"
    assert {"ethics-audit-home", "postgres-db-volume", "results-db-volume", "airflow-logs"} <= set(COMPOSE["volumes"])
    for folder in ("dags", "plugins", "audits"):
        assert (REPO / folder).is_dir()


def test_the_connections_and_settings_are_the_ones_the_code_reads() -> None:
    variables = env("airflow-worker")
    assert f"AIRFLOW_CONN_{connections.RESULTS_DB_CONN_ID.upper()}" in variables
    assert f"AIRFLOW_CONN_{connections.SLACK_CONN_ID.upper()}" in variables
    source = "\n".join(p.read_text() for p in (REPO / "plugins").rglob("*.py"))
    read_by_code = set(re.findall(r"\b(ETHICS_AUDIT_[A-Z_]+)\b", source))
    for name in (n for n in variables if n.startswith("ETHICS_AUDIT_")):
        assert name in read_by_code, f"{name} is set in docker-compose.yml but nothing reads it"
    # every secret comes from .env, none is written in the compose file
    for service in SERVICES.values():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|FERNET|_KEY$|AIRFLOW_CONN_", key) and value:
                assert str(value).startswith("${") or "${" in str(value), key


def test_every_variable_of_the_compose_file_is_documented_in_env_example() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    assert used - set(ENV_EXAMPLE) == set(), "document these in .env.example"
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text))
    assert required == {
        "AIRFLOW_DB_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_ADMIN_PASSWORD",
        "RESULTS_DB_PASSWORD",
        "AIRFLOW_CONN_ETHICS_AUDIT_DB",
    }
    # the example ships no secret: each required one is blank (or a CHANGE-ME placeholder)
    for name in required - {"AIRFLOW_CONN_ETHICS_AUDIT_DB"}:
        assert ENV_EXAMPLE[name] == "", name
    assert "CHANGE-ME" in ENV_EXAMPLE["AIRFLOW_CONN_ETHICS_AUDIT_DB"]


def test_the_image_is_the_official_one_for_the_same_airflow_and_python() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    airflow_version = version("apache-airflow")
    python = re.search(r'requires-python = ">=(\d+\.\d+)', (REPO / "pyproject.toml").read_text()).group(1)
    assert f"ARG AIRFLOW_VERSION={airflow_version}\n" in dockerfile
    assert f"ARG PYTHON_VERSION={python}\n" in dockerfile
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}" in dockerfile
    pins = (REPO / "requirements.txt").read_text().splitlines()
    assert f"apache-airflow=={airflow_version}" in pins
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"].startswith(f">={python}")
    assert 'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt' in dockerfile
    assert "&& pip check" in dockerfile
    for folder in ("plugins", "dags", "audits"):
        assert f"COPY --chown=airflow:0 {folder}/ /opt/airflow/{folder}/" in dockerfile
    assert SERVICES["airflow-init"]["image"] == "${ETHICS_AUDIT_IMAGE:-ethics-audit-airflow:" + airflow_version + "}"


@pytest.mark.parametrize("name", ["AIRFLOW_CONN_ETHICS_AUDIT_DB"])
def test_the_example_connection_is_airflows_uri_form(name: str) -> None:
    from airflow.models.connection import Connection

    conn = Connection(conn_id="x", uri=ENV_EXAMPLE[name])
    assert (conn.conn_type, conn.host, conn.schema) == ("postgres", "results-db", "ethics_audit")
