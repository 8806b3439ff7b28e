"""Admin web pages served by the API: server-rendered (Jinja2, autoescaped), a little JavaScript, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.admin.auth import PageError
from api.admin.routes import on_page_error, router


def install(app: FastAPI) -> None:
    app.mount("/admin/static", StaticFiles(directory=Path(__file__).parent / "static"), name="admin-static")
    app.include_router(router)
    app.add_exception_handler(PageError, on_page_error)
