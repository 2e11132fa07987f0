"""The dashboard's routes: sign-in and sign-out, products overview, one product, one lead.

Every page needs a session (nurture.dashboard.session); without one it redirects to the
sign-in page and comes back afterwards. Pages are rendered on the server from the reports'
own figures; the charts are drawn in the browser by static/dashboard.js from a JSON block
(no inline script: the Content-Security-Policy allows scripts from this server only).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from nurture.api.auth import key_hash, live_scopes
from nurture.api.limits import max_body
from nurture.config import Settings
from nurture.dashboard import figures, session, texts
from nurture.dashboard.lead_timeline import lead_story
from nurture.journey.client import journey_state
from nurture.journey.contract import JourneyState, journey_id
from nurture.store.engine import Store

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/dashboard", include_in_schema=False)
LOGIN_BYTES = 4096
STATE_SECONDS = 3.0
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def signed_in(request: Request) -> session.Session | None:
    """The request's session if its key is still live and holds admin."""
    found = session.unseal(request.cookies.get(session.COOKIE), _settings(request).secret_key)
    if found is None:
        return None
    scopes = await live_scopes(_store(request), found.key_hash)
    return found if scopes is not None and "admin" in scopes else None


def _to_login(request: Request) -> RedirectResponse:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return RedirectResponse(f"/dashboard/login?next={target}", status_code=303)


def _language(request: Request, scenario_locale: str | None = None) -> texts.Language:
    return texts.choose(
        request.query_params.get("lang"),
        request.cookies.get(texts.COOKIE),
        scenario_locale,
        request.headers.get("accept-language", ""),
    )


def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    language: texts.Language,
    status_code: int = 200,
    signed_in: session.Session | None = None,
) -> HTMLResponse:
    secret = _settings(request).secret_key
    page = templates.TemplateResponse(
        request,
        template,
        {
            **context,
            "t": texts.texts(language),
            "lang": language,
            "csrf": signed_in.csrf(secret) if signed_in else "",
            "path": request.url.path,
        },
        status_code=status_code,
        headers=HEADERS,
    )
    if request.query_params.get("lang") in texts.LANGUAGES:
        page.set_cookie(texts.COOKIE, language, max_age=365 * 86400, samesite="strict")
    return page


def _not_found(request: Request, what: str, signed: session.Session) -> HTMLResponse:
    context = {"what": what}
    return _page(request, "not_found.html", context, language=_language(request),
                 status_code=404, signed_in=signed)  # fmt: skip


def _safe_next(target: str | None) -> str:
    """Only a dashboard path: never another site (no open redirect)."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return "/dashboard"


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    secret = _settings(request).secret_key
    context = {"token": session.login_token(secret), "next": _safe_next(next), "error": None}
    return _page(request, "login.html", context, language=_language(request))


@router.post("/login", dependencies=[Depends(max_body(LOGIN_BYTES))])
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = form.get("key", [""])[0].strip()
    token = form.get("csrf", [""])[0]
    target = _safe_next(form.get("next", [None])[0])
    secret = _settings(request).secret_key
    language = _language(request)
    error = None
    if not session.login_token_ok(secret, token):
        error = "expired_form"
    else:
        scopes = await live_scopes(_store(request), key_hash(key)) if key else None
        if scopes is None or "admin" not in scopes:
            error = "bad_key"
    if error is not None:
        context = {"token": session.login_token(secret), "next": target, "error": error}
        return _page(request, "login.html", context, language=language, status_code=401)
    signed = session.new_session(key_hash(key))
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        session.COOKIE,
        session.seal(signed, secret),
        max_age=session.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        # Behind a TLS proxy the request may look like http: the public address says.
        secure=request.url.scheme == "https"
        or _settings(request).public_base_url.startswith("https://"),
        path="/dashboard",
    )
    return answer


@router.post("/logout", dependencies=[Depends(max_body(LOGIN_BYTES))])
async def logout(request: Request) -> Response:
    signed = await signed_in(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    if signed is None or not signed.csrf_ok(
        _settings(request).secret_key, form.get("csrf", [""])[0]
    ):
        return _to_login(request)
    answer = RedirectResponse("/dashboard/login", status_code=303)
    answer.delete_cookie(session.COOKIE, path="/dashboard")
    return answer


@router.get("")
async def products(request: Request) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return _to_login(request)
    settings = _settings(request)
    lines = await asyncio.to_thread(figures.overview, _store(request), settings.scenarios_dir)
    return _page(request, "overview.html", {"products": lines}, language=_language(request),
                 signed_in=signed)  # fmt: skip


@router.get("/products/{product}")
async def product(request: Request, product: str) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return _to_login(request)
    settings = _settings(request)
    page = await asyncio.to_thread(
        figures.product_page, _store(request), settings.scenarios_dir, product
    )
    if page is None:
        return _not_found(request, product, signed)
    context = {"page": page, "weekdays": figures.WEEKDAYS}
    return _page(request, "product.html", context, language=_language(request, page.locale),
                 signed_in=signed)  # fmt: skip


@router.get("/leads/{lead_id}")
async def lead(request: Request, lead_id: str) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return _to_login(request)
    story = await asyncio.to_thread(lead_story, _store(request), lead_id)
    if story is None:
        return _not_found(request, lead_id, signed)
    settings = _settings(request)
    states, reachable = await _live_states(request, lead_id, [j.product for j in story.journeys])
    ui = settings.temporal_ui_url.rstrip("/")
    links = {
        j.product: f"{ui}/namespaces/{settings.temporal_namespace}/workflows/"
        f"{journey_id(j.product, lead_id)}"
        for j in story.journeys
    }
    context = {"story": story, "states": states, "reachable": reachable, "links": links}
    return _page(request, "lead.html", context, language=_language(request), signed_in=signed)


async def _live_states(
    request: Request, lead_id: str, products: list[str]
) -> tuple[dict[str, JourneyState], bool]:
    """Each journey's live state, asked of Temporal within a few seconds; False when
    Temporal could not be reached (the page then shows the store's story only)."""
    states: dict[str, JourneyState] = {}
    try:
        client = await request.app.state.temporal.client()
    except Exception:  # any failure to connect means: no live state
        return states, False
    for name in products:
        with contextlib.suppress(Exception):
            states[name] = await asyncio.wait_for(
                journey_state(client, name, lead_id), STATE_SECONDS
            )
    return states, True
