"""The web page at /ui: pick or type a user, see their recommendations by name, each one's
explanation paths drawn as a graph (Cytoscape.js, vendored in api/static/vendor so the page
works offline), search, and add an item or an event. It is static: its script calls this
API with the key typed into it, so it may do what that key may."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"
# Script and style from this server only, so nothing a shop's data holds can run. The hash
# lets in the one rule Cytoscape.js writes into a <style> element of its own.
CYTOSCAPE_STYLE = "'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='"
POLICY = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {CYTOSCAPE_STYLE}; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/ui")
def page() -> FileResponse:
    return FileResponse(
        STATIC / "ui.html",
        headers={"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"},
    )


def static_files() -> StaticFiles:
    """The page's script, style and vendored library, mounted at /ui/static."""
    return StaticFiles(directory=STATIC)
