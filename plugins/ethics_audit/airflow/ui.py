"""The Ethics pages inside Airflow's api-server: routes, and access through Airflow's auth manager.

Plugin FastAPI apps are mounted without the core API's authentication, so every route here
resolves the user itself with ``get_user`` from ``airflow.api_fastapi.core_api.security`` (the
JWT from the ``Authorization: Bearer`` header, or the ``_token`` cookie the UI sets, which a
page opened in the browser or in the UI's iframe sends) and asks the auth manager about the
audit's DAG ``ethics_audit__<id>``: reading needs GET on it, acting on incidents PUT. Anonymous
requests get 401, others without the right 403, before anything is read from the store. Forms
post only from this origin (the ``Origin`` header is checked, and the UI's cookie is SameSite=Lax).
Actions go through the same ``Store`` methods as ``ethics-audit incidents``, recorded as the
Airflow user. Imported only by the api-server, when the first request arrives (``plugin.py``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import BackgroundTasks, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ethics_audit.errors import AuditError
from ethics_audit.web import pages
from ethics_audit.web.serve import slack_router

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_user import BaseUser

    from ethics_audit.store import Store

log = logging.getLogger(__name__)

ACTIONS = ("acknowledge", "mute", "resolve")
_stores: dict[str, Store] = {}
_lock = threading.Lock()


# --------------------------------------------------------------------------- the results store


def _fields(conn_id: str) -> Any:
    """A connection's fields: ``AIRFLOW_CONN_<ID>``, else Airflow's secrets backends and metadata
    database (the api-server may read them; the task SDK's lookup is for workers)."""
    from ethics_audit import connections

    found = connections.from_env(conn_id)
    if found is not None:
        return found
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets(conn_id)
    except Exception:  # noqa: BLE001 - AirflowNotFoundException: not defined
        return None
    return connections.fields_of(conn)


def results_url() -> str:
    from ethics_audit import connections

    return connections.results_db_url(_fields(connections.results_db_conn_id()))


def get_store() -> Store:
    """One store per results URL (looked up per request: the connection may be created later)."""
    from ethics_audit.store import Store

    url = results_url()
    with _lock:
        if url not in _stores:
            _stores[url] = Store(url)
        return _stores[url]


def signing_secret() -> str | None:
    from ethics_audit.web.slack_actions import SECRET_ENV

    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    fields = _fields("slack_api_default")
    return ((fields.extra or {}).get("signing_secret") or None) if fields is not None else None


# --------------------------------------------------------------------------- access


def may(user: BaseUser, audit_id: str, method: str) -> bool:
    """May ``user`` GET (read) or PUT (act on) the DAG of ``audit_id``?"""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.models.dag import DagModel

    dag_id = pages.dag_id_for(audit_id)
    try:
        team = DagModel.get_team_name(dag_id)
    except Exception:  # noqa: BLE001 - no such DAG in the metadata (an audit run by the CLI only)
        team = None
    return get_auth_manager().is_authorized_dag(
        method=method,  # type: ignore[arg-type]
        user=user,
        details=DagDetails(id=dag_id, team_name=team),
    )


def require(user: BaseUser, audit_id: str, method: str) -> None:
    if not may(user, audit_id, method):
        need = "read" if method == "GET" else "edit"
        raise HTTPException(403, f"{user.get_name()} may not {need} the DAG {pages.dag_id_for(audit_id)}")


def _same_origin(request: Request) -> None:
    """A form post from another site is refused (defence in depth next to SameSite=Lax cookies)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "cross-site form posts are refused")


def _base(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


# --------------------------------------------------------------------------- the app


def create_app() -> FastAPI:
    app = FastAPI(title="ethics-audit", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(slack_router(get_store, secret=signing_secret))

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, user: GetUserDep) -> HTMLResponse:
        store = get_store()
        readable = [a for a in store.audit_ids() if may(user, a, "GET")]
        return HTMLResponse(pages.overview(store, readable, base=_base(request)))

    @app.get("/audits/{audit_id}", response_class=HTMLResponse)
    def audit(
        request: Request, audit_id: str, user: GetUserDep, quarter: str | None = None, message: str = ""
    ) -> HTMLResponse:
        require(user, audit_id, "GET")
        try:
            html = pages.audit_page(
                get_store(),
                audit_id,
                quarter=quarter,
                can_act=may(user, audit_id, "PUT"),
                message=message[:300],
                base=_base(request),
            )
        except AuditError as exc:  # a malformed ?quarter=
            raise HTTPException(400, str(exc)) from None
        if html is None:
            raise HTTPException(404, f"audit {audit_id!r} has no history in the results database")
        return HTMLResponse(html)

    @app.get("/dags/{dag_id}", response_class=HTMLResponse)
    def dag_tab(request: Request, dag_id: str, user: GetUserDep) -> Any:
        """The tab on every DAG (``external_views`` cannot pick DAGs): an audit's page, or a note."""
        audit_id = dag_id.removeprefix("ethics_audit__")
        if audit_id == dag_id:
            return HTMLResponse(
                pages.render(
                    "ethics_note.html.j2", {"text": f"{dag_id} is not an ethics audit DAG.", "base": _base(request)}
                )
            )
        return audit(request, audit_id, user)

    @app.post("/audits/{audit_id}/incidents/{incident_id}/{action}")
    def act(
        request: Request,
        background: BackgroundTasks,
        audit_id: str,
        incident_id: int,
        action: str,
        user: GetUserDep,
        note: Annotated[str, Form()] = "",
        until: Annotated[str, Form()] = "",
    ) -> RedirectResponse:
        _same_origin(request)
        require(user, audit_id, "PUT")
        if action not in ACTIONS:
            raise HTTPException(404, f"no action {action!r}; one of {', '.join(ACTIONS)}")
        store = get_store()
        incident = store.incident(incident_id)
        if incident is None or incident["audit_id"] != audit_id:
            raise HTTPException(404, f"audit {audit_id} has no incident {incident_id}")
        if action == "acknowledge" and incident["status"] != "open":
            # a form sent twice (a double click, a reload) acknowledges once
            by = f" by {incident['acknowledged_by']}" if incident["acknowledged_by"] else ""
            message = f"#{incident_id} is {incident['status']}{by}; nothing to acknowledge"
        else:
            message = _apply(store, action, incident_id, actor=user.get_name(), note=note.strip()[:500], until=until)
        if not message.startswith("error"):
            from ethics_audit.notify import deliver_pending

            background.add_task(deliver_pending, store, audit_id=audit_id)
        target = f"{_base(request)}/audits/{quote(audit_id)}?message={quote(message)}#incident-{incident_id}"
        return RedirectResponse(target, status_code=303)

    @app.get("/audits/{audit_id}/runs/{run_id}/report", response_class=HTMLResponse)
    def run_report(audit_id: str, run_id: int, user: GetUserDep) -> HTMLResponse:
        require(user, audit_id, "GET")
        from ethics_audit.reports import render_run_report

        store = get_store()
        run = store.get_run(run_id)
        if run is None or run.audit_id != audit_id:
            raise HTTPException(404, f"audit {audit_id} has no run {run_id}")
        return HTMLResponse(render_run_report(store, run_id).read_text(encoding="utf-8"))

    @app.get("/audits/{audit_id}/quarterly", response_class=HTMLResponse)
    def quarterly(audit_id: str, user: GetUserDep, quarter: str) -> HTMLResponse:
        require(user, audit_id, "GET")
        from ethics_audit.reports import build_quarterly_report

        with tempfile.TemporaryDirectory(prefix="ea-quarterly-") as folder:
            try:
                result = build_quarterly_report(
                    get_store(), quarter, audit_ids=[audit_id], out_dir=Path(folder), pdf=False
                )
            except AuditError as exc:
                raise HTTPException(400, str(exc)) from None
            return HTMLResponse(Path(result["html"]).read_text(encoding="utf-8"))

    return app


def _apply(store: Store, action: str, incident_id: int, *, actor: str, note: str, until: str) -> str:
    """Apply one form's action; the message shown on the page afterwards."""
    from ethics_audit.recording import apply_action
    from ethics_audit.windows import parse_instant

    try:
        if action == "acknowledge":
            apply_action(store, "acknowledge", [incident_id], actor=actor, note=note)
            return f"#{incident_id} acknowledged by {actor}"
        if action == "resolve":
            apply_action(store, "resolve", [incident_id], actor=actor, note=note)
            return f"#{incident_id} resolved by {actor}"
        try:
            when = parse_instant(until)
        except ValueError as exc:
            return f"error: mute until: {exc}"
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        apply_action(store, "mute", [incident_id], until=when, actor=actor, note=note)
        return f"#{incident_id} muted until {when:%Y-%m-%d %H:%M} UTC by {actor}"
    except AuditError as exc:
        return f"error: {exc}"
