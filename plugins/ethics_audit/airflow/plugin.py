"""The Airflow plugin: the Ethics pages and Slack's interactivity URL under ``/ethics-audit``.

``fastapi_apps`` mounts the app at ``/ethics-audit`` in the api-server; ``external_views`` adds
"Ethics" to the UI's navigation (the overview) and as a tab on every DAG (the audit's page for
``ethics_audit__<id>``; the UI cannot show a tab on some DAGs only). Every component loads
plugins, so this module stays cheap: the FastAPI app (``ui.py``, which imports FastAPI and the
api-server's security) is built on the first request, in the api-server only. Registered by
``plugins/ethics_audit_plugin.py``, the one module Airflow's plugin loader imports from here.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

PREFIX = "/ethics-audit"


class LazyApp:
    """An ASGI app that builds ``ethics_audit.airflow.ui.create_app()`` when first called."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def build(self) -> Any:
        with self._lock:
            if self._app is None:
                from ethics_audit.airflow.ui import create_app

                self._app = create_app()
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.build()(scope, receive, send)


app = LazyApp()


class EthicsAuditPlugin(AirflowPlugin):
    name = "ethics_audit"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [{"app": app, "url_prefix": PREFIX, "name": "ethics-audit"}]
    external_views: ClassVar[list[dict[str, Any]]] = [
        # hrefs without a leading slash: the UI resolves them against its <base href>
        {"name": "Ethics", "href": "ethics-audit/", "destination": "nav", "url_route": "ethics", "category": "browse"},
        {"name": "Ethics", "href": "ethics-audit/dags/{DAG_ID}", "destination": "dag", "url_route": "ethics-audit"},
    ]
