"""The FastAPI pieces without Airflow: the Slack actions route, and the app of ``ethics-audit serve``.

``slack_router`` is mounted by the Airflow plugin and by ``create_app``, so the endpoint is the
same code in both places: ``POST <prefix>/slack/actions``. The answer goes back to Slack at
once (Slack waits 3 s); delivering the announcement to the thread runs after it, as a
background task. ``ethics-audit serve`` runs ``create_app`` under uvicorn for teams without
Airflow; it serves only this endpoint and a health check, never the pages (they need Airflow's
login).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# at the top: FastAPI resolves the routes' annotations from this module's globals
from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from ethics_audit.store import Store

PREFIX = "/ethics-audit"


def slack_router(get_store: Callable[[], Store], **options: Any) -> APIRouter:
    """``POST /slack/actions``; ``options`` go to ``slack_actions.handle`` (secret, users)."""
    from starlette.concurrency import run_in_threadpool

    from ethics_audit.web import slack_actions

    router = APIRouter()

    @router.post("/slack/actions")
    async def slack_action(request: Request, background: BackgroundTasks) -> JSONResponse:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        store = get_store()
        # the store is synchronous: off the event loop, so one slow database does not stall the server
        outcome = await run_in_threadpool(slack_actions.handle, store, body, headers, **options)
        if outcome.deliver_audit or outcome.reply:
            background.add_task(slack_actions.follow_up, store, outcome)
        return JSONResponse(outcome.body, status_code=outcome.status)

    return router


def create_app(store_url: str | None = None) -> FastAPI:
    """The standalone app: Slack actions under ``/ethics-audit``, one store for its lifetime."""
    from ethics_audit.store import open_store

    stores: list[Store] = []

    def get_store() -> Store:
        if not stores:
            stores.append(open_store(store_url))
        return stores[0]

    app = FastAPI(title="ethics-audit", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(slack_router(get_store), prefix=PREFIX)

    @app.get(f"{PREFIX}/health")
    def health() -> dict[str, str]:
        get_store()
        return {"status": "ok"}

    return app


def serve(host: str, port: int, store_url: str | None = None) -> None:
    """Run ``create_app`` under uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(store_url), host=host, port=port, log_level="info")
