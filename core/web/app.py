"""goex-review's pages (Starlette, Jinja2 templates rendered on the server, no build step).

Every page but the sign-in needs a session (``core.web.auth``); every POST needs the session's
CSRF token and, when the browser sends one, this server's own Origin. Every response forbids
framing, inline script and style, and any source but this server (Content-Security-Policy);
templates escape everything they are given, which has passed the redactor first.
"""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.action import Decision, Kind, Status, Verdict
from core.errors import GoexError
from core.redact import Redactor
from core.web.auth import SESSION_COOKIE, SESSION_IDLE, Gate, Session, csrf_ok
from core.web.diffview import split_view, unified_view
from core.web.journals import Entry, Journals, now
from core.web.sides import FileChange, Side

HERE = Path(__file__).parent
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make a form's Origin "null"
    "Cache-Control": "no-store",
}
VERDICTS = {"approve": Verdict.COMMIT, "reject": Verdict.REJECT}


@dataclass(frozen=True)
class Site:
    journals: Journals
    sides: Mapping[Kind, Side]
    gate: Gate
    redactor: Redactor
    secure_cookie: bool = False


def build_app(site: Site, hosts: list[str]) -> Starlette:
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    templates.filters["age"] = _age
    templates.filters["left"] = _left

    def page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        session = request.scope.get("goex_session")
        html = templates.get_template(name).render(
            session=session, csrf=session.csrf if session else "", **values
        )
        return HTMLResponse(html, status_code=status)

    def listed(entries: list[Entry]) -> list[dict[str, Any]]:
        return [shown_entry(e, site.redactor) for e in entries]

    def signed_in(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            session = site.gate.session(request.cookies.get(SESSION_COOKIE))
            if session is None:
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    return RedirectResponse("/login", status_code=303)
                return JSONResponse({"error": "sign in first"}, status_code=401)
            request.scope["goex_session"] = session
            if request.method == "POST":
                form = await request.form()
                if not _same_origin(request) or not csrf_ok(session, _one(form, "csrf")):
                    return page(request, "error.html", 403, message=FORGED)
                request.scope["goex_form"] = form
            return await handler(request)

        return checked

    async def login_form(request: Request) -> Response:
        token = request.query_params.get("token", "")
        return page(request, "login.html", token=token, failed=False, gate=site.gate)

    async def login(request: Request) -> Response:
        form = await request.form()
        if not _same_origin(request):
            return page(request, "error.html", 403, message=FORGED)
        address = request.client.host if request.client else "?"
        cookie = await run_in_threadpool(
            site.gate.sign_in,
            _one(form, "user"),
            _one(form, "password"),
            _one(form, "token"),
            address,
        )
        if cookie is None:
            return page(request, "login.html", 403, token="", failed=True, gate=site.gate)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(SESSION_IDLE),
            httponly=True,
            samesite="strict",
            secure=site.secure_cookie,
        )
        return response

    @signed_in
    async def logout(request: Request) -> Response:
        site.gate.sign_out(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @signed_in
    async def queue(request: Request) -> Response:
        entries = await run_in_threadpool(site.journals.queue)
        return page(request, "queue.html", entries=listed(entries))

    @signed_in
    async def queue_rows(request: Request) -> Response:
        entries = await run_in_threadpool(site.journals.queue)
        return page(request, "queue_rows.html", entries=listed(entries))

    @signed_in
    async def history(request: Request) -> Response:
        query = request.query_params
        filters = {k: query.get(k) or None for k in ("status", "target", "since")}
        entries = await run_in_threadpool(lambda: site.journals.history(**filters))
        return page(
            request,
            "history.html",
            entries=listed(entries),
            filters=filters,
        )

    @signed_in
    async def action(request: Request) -> Response:
        entry, recorded = await _found(request.path_params["id"])
        split = request.query_params.get("view") == "split"
        shown = site.redactor.redact_obj(recorded)
        side = site.sides.get(entry.action.kind)
        sections = [] if side is None else side.sections(entry.action, shown)
        view = split_view if split else unified_view
        files = [(s, view(s.diff) if s.diff else []) for s in sections if isinstance(s, FileChange)]
        return page(
            request,
            "action.html",
            entry=shown_entry(entry, site.redactor),
            recorded=shown,
            sections=[s for s in sections if not isinstance(s, FileChange)],
            files=files,
            split=split,
            undoable=side is not None and side.undo_argv(entry.action) is not None,
        )

    @signed_in
    async def action_state(request: Request) -> Response:
        entry, _ = await _found(request.path_params["id"])
        return JSONResponse({"id": entry.action.id, "state": entry.state})

    @signed_in
    async def decide(request: Request) -> Response:
        form = request.scope["goex_form"]
        outcome = await _decide(request, form, request.path_params["id"], _one(form, "digest"))
        return page(request, "decided.html", outcomes=[outcome])

    @signed_in
    async def batch_confirm(request: Request) -> Response:
        form = request.scope["goex_form"]
        verdict = _one(form, "verdict")
        entries = [(await _found(i))[0] for i in dict.fromkeys(form.getlist("id"))]
        if verdict not in VERDICTS or not entries:
            return page(request, "error.html", 400, message="choose actions and a verdict")
        return page(
            request,
            "batch.html",
            entries=listed(entries),
            verdict=verdict,
        )

    @signed_in
    async def batch_decide(request: Request) -> Response:
        form = request.scope["goex_form"]
        ids, digests = form.getlist("id"), form.getlist("digest")
        if len(ids) != len(digests) or not ids:
            return page(request, "error.html", 400, message="every action needs its digest")
        outcomes = [
            await _decide(request, form, str(i), str(d)) for i, d in zip(ids, digests, strict=True)
        ]
        return page(request, "decided.html", outcomes=outcomes)

    @signed_in
    async def undo(request: Request) -> Response:
        entry, _ = await _found(request.path_params["id"])
        side = site.sides.get(entry.action.kind)
        argv = None if side is None else side.undo_argv(entry.action)
        if argv is None or entry.action.status is not Status.COMMITTED:
            return page(request, "error.html", 409, message="this action cannot be undone here")
        try:
            subprocess.Popen(  # staged and held for a person: it joins the queue
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            return page(request, "error.html", 500, message=f"cannot start the undo: {exc}")
        return page(request, "undo.html", entry=shown_entry(entry, site.redactor))

    async def _found(action_id: str) -> tuple[Entry, dict[str, Any]]:
        return await run_in_threadpool(site.journals.find, action_id)

    async def _decide(
        request: Request, form: FormData, action_id: str, digest: str
    ) -> dict[str, str]:
        session: Session = request.scope["goex_session"]
        verdict = VERDICTS.get(_one(form, "verdict"))
        if verdict is None:
            return {"id": action_id, "error": "the verdict is approve or reject"}
        where = request.client.host if request.client else "?"
        said = "approved" if verdict is Verdict.COMMIT else "rejected"
        reason = _one(form, "reason").strip()[:2000] or f"{said} on goex-review"
        paths = tuple(str(p) for p in form.getlist("path")) if verdict is Verdict.COMMIT else ()
        by = f"person:{session.user}@goex-review from {where}"
        try:
            decision = Decision(by, verdict, reason, digest, paths=paths)
            status = await run_in_threadpool(site.journals.decide, site.sides, action_id, decision)
        except GoexError as exc:
            return {"id": action_id, "error": site.redactor.redact(exc.message)}
        outcome = (
            status.value if status is not Status.STAGED else f"{said}; its process carries it out"
        )
        return {"id": action_id, "outcome": outcome}

    async def failed(request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, GoexError) else "not found"
        return page(request, "error.html", 404, message=site.redactor.redact(message))

    async def secure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        return response

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", queue),
        Route("/queue/rows", queue_rows),
        Route("/history", history),
        Route("/actions/{id}", action),
        Route("/actions/{id}/state", action_state),
        Route("/actions/{id}/decide", decide, methods=["POST"]),
        Route("/actions/{id}/undo", undo, methods=["POST"]),
        Route("/batch", batch_confirm, methods=["POST"]),
        Route("/batch/decide", batch_decide, methods=["POST"]),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
            Middleware(BaseHTTPMiddleware, dispatch=secure),
        ],
        exception_handlers={GoexError: failed, 404: failed},
    )


FORGED = "this request did not come from goex-review's own page (its CSRF token or origin)"


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from this server's own pages (a browser
    that says nothing is checked by the CSRF token and SameSite alone)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    sent = urlsplit(origin)
    return f"{sent.scheme}://{sent.netloc}" == f"{request.url.scheme}://{request.url.netloc}"


def shown_entry(entry: Entry, redactor: Redactor) -> dict[str, Any]:
    """What a page shows of an action, redacted (templates escape it)."""
    action, decision = entry.action, entry.action.decision
    code = redactor.redact(action.code)
    return {
        "id": action.id,
        "kind": action.kind.value,
        "target": redactor.redact(action.target),
        "prompt": redactor.redact(action.prompt or ""),
        "code": code,
        "headline": (code.strip().splitlines() or [""])[0][:160],
        "state": entry.state,
        "status": action.status.value,
        "begun": action.history[0][1],
        "since": entry.waiting.since if entry.waiting else entry.staged_at,
        "left": entry.seconds_left(now()),
        "kept": entry.waiting is not None and entry.waiting.kept,
        "digest": action.digest or "",
        "history": [(status.value, at) for status, at in action.history],
        "decision": None
        if decision is None
        else {
            "by": redactor.redact(decision.by),
            "verdict": decision.verdict.value,
            "reason": redactor.redact(decision.reason),
            "at": decision.at,
            "paths": [redactor.redact(p) for p in decision.paths],
        },
    }


def _age(iso: str) -> str:
    seconds = (now() - datetime.fromisoformat(iso)).total_seconds()
    return _duration(seconds)


def _left(seconds: float | None) -> str:
    return "kept until decided" if seconds is None else _duration(seconds)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
