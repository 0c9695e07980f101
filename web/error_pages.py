"""Error pages a person can read: a browser's page request that ends in 4xx/5xx gets
the site's layout with the reason and a way back, not aiohttp's bare text. API and
websocket requests keep their JSON errors; and a favicon, so no browser asks in vain.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import structlog
from aiohttp import web

from web.app import Handler, is_api

log = structlog.get_logger()

FAVICON = Path(__file__).parent / "static" / "favicon.svg"
ADVICE = {
    401: "Sign in, then try again.",
    403: "Your role does not allow this page.",
    404: "There is no page at this address.",
    405: "This address does not take that kind of request.",
}


def _wants_page(request: web.Request) -> bool:
    return (
        request.method in ("GET", "HEAD", "POST")
        and not is_api(request)
        and not request.path.startswith("/static/")
        and "text/html" in request.headers.get("Accept", "")
    )


def _message(status: int, reason: str, text: str | None) -> str:
    """The handler's own words, unless they only repeat the status ("404: Not Found")."""
    text = (text or "").strip()
    for prefix in (f"{status}: {reason}", f"{status} {reason}:", f"{status} {reason}"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    return text


def error_page(request: web.Request, status: int, reason: str, text: str | None) -> web.Response:
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {"status": status, "reason": reason, "message": _message(status, reason, text), "advice": ADVICE.get(status)},
        status=status,
    )


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _wants_page(request):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_page(request, exc.status, exc.reason, exc.text)
    except Exception:  # a bug: logged with its trace, the person gets a page (not a trace)
        log.exception("page_failed", path=request.path)
        return error_page(request, 500, "Internal Server Error", "Something went wrong on our side; it is logged.")
    if response.status >= 400 and isinstance(response, web.Response) and response.content_type == "text/plain":
        return error_page(request, response.status, response.reason, response.text)
    return response


async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(FAVICON, headers={"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"})


def setup(app: web.Application) -> None:
    """After web.app.setup (templates): the middleware goes just inside the security
    headers (its pages get them) and outside the others (their refusals become pages)."""
    from web.app import security_headers

    app.middlewares.insert(list(app.middlewares).index(security_headers) + 1, error_pages)
    app.router.add_get("/favicon.ico", favicon)
