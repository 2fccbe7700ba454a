"""The liveness and readiness probes of the services with a database of their own (the regulator's platform, the
industry blacklist, the enterprise console): `/healthz`, and `/readyz` answering 503 `database_unreachable` or
`migrations_pending` until the database answers at the service's newest migration (`app.state.engine`,
`app.state.head_revision`). The carrier platform's own probes check more (web/app.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from parcelguard.core import db, errors


def probes(whose: str, init_command: str) -> APIRouter:
    """The probes of a service whose database is "`whose` database" and is brought up by `init_command`."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary=f"{whose} database is reachable and at its newest migration")
    def readyz(request: Request) -> Response:
        state = request.app.state
        instance = errors.instance_of(request.state.request_id)
        try:
            current = db.current_revision(state.engine)
        except Exception:  # noqa: BLE001  (whatever the driver raises, the answer is: not ready)
            return errors.problem(503, "database_unreachable", "The database does not answer.", instance=instance)
        if current != state.head_revision:
            return errors.problem(503, "migrations_pending", f"{whose} database is not at its newest migration: "
                                  f"run `{init_command}`.", instance=instance)
        return JSONResponse({"status": "ready", "revision": current})

    return router
