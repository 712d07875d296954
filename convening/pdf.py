"""The one way commintel makes a PDF: Jinja template → HTML → WeasyPrint, with a fetcher that reaches nothing outside.

Briefings carry text that people typed (titles, section bodies, agenda items, decisions), so the renderer is treated
like a browser opening a hostile page:

- Every template is autoescaped; Markdown is sanitised by :func:`convening.markdown.render_markdown` (no style, no
  images, no links other than http(s)/mailto, which a PDF reader — not the renderer — may later open).
- The URL fetcher (:class:`AssetFetcher`) serves exactly two things: files of the app's own ``webapp/static`` folder
  (stylesheet, fonts) and images this process generated for this document (charts, the map). Both live under the
  pseudo-origin ``https://commintel.invalid/`` (RFC 2606: ``.invalid`` can never resolve), which the fetcher maps to
  memory and to that folder without touching the network. ``file:``, ``data:``, any other ``http(s)``, ``ftp:`` and
  every other scheme are refused with :class:`ForbiddenResource`. WeasyPrint then renders without the resource (a
  missing image or attachment), so hostile text cannot stop a briefing from being produced; the refusals are counted
  on the result and logged (scheme only).
- Hard limits: at most ``max_pages`` pages and ``max_seconds`` of rendering, each with a clear message. The time limit
  interrupts layout with a timer signal when rendering runs on the main thread (CLI, Celery worker, tests); elsewhere
  it is checked after each stage.
"""

from __future__ import annotations

import ctypes
import logging
import mimetypes
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

import webapp

log = logging.getLogger(__name__)

STATIC_ROOT = (Path(webapp.__file__).resolve().parent / "static").resolve()
ORIGIN = "https://commintel.invalid"
BASE_URL = f"{ORIGIN}/static/"
GENERATED_PREFIX = "/generated/"
STATIC_PREFIX = "/static/"
# What the static part may hand to the renderer: styles, fonts and images; never templates, code or data.
STATIC_TYPES = {".css", ".ttf", ".otf", ".woff", ".woff2", ".svg", ".png", ".jpg", ".jpeg"}
GENERATED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}\.(svg|png)$")

DEFAULT_MAX_PAGES = 60
DEFAULT_MAX_SECONDS = 60.0


class PdfError(Exception):
    """A PDF could not be made; ``message`` says why in words a convenor understands."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PdfLimitExceeded(PdfError):
    pass


class ForbiddenResource(ValueError):  # noqa: N818 - reads better at the raise site than ForbiddenResourceError
    """The renderer asked for something outside the app's own assets."""


class _Timeout(BaseException):
    """Raised by the timer inside WeasyPrint; a BaseException so that no ``except Exception`` in the library eats it."""


@dataclass
class Limits:
    max_pages: int = DEFAULT_MAX_PAGES
    max_seconds: float = DEFAULT_MAX_SECONDS


@dataclass
class RenderResult:
    pdf: bytes
    pages: int
    seconds: float
    refused: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)


class AssetFetcher(URLFetcher):
    """Serves the app's static files and this document's generated images; refuses everything else.

    It never calls the parent's ``fetch`` (which would open sockets and files): the parent class is only the type
    WeasyPrint expects.
    """

    def __init__(self, generated: Mapping[str, bytes] | None = None):
        super().__init__(allowed_protocols=("https",), allow_redirects=False, fail_on_errors=False)
        self.generated = dict(generated or {})
        self.refused: list[str] = []
        self.served: list[str] = []

    def refuse(self, url: str, why: str):
        scheme = url.split(":", 1)[0][:16] if ":" in url else "relative"
        self.refused.append(url[:200])
        log.warning("PDF renderer refused a %s resource (%s)", scheme, why)
        return ForbiddenResource(f"refused {why}: {url[:80]}")

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        try:
            parts = urlsplit(url)
        except ValueError:
            raise self.refuse(url, "a malformed address") from None
        if parts.scheme != "https" or parts.netloc != "commintel.invalid" or parts.query or parts.username:
            raise self.refuse(url, "an address outside the app's own assets")
        path = unquote(parts.path)
        if path.startswith(GENERATED_PREFIX):
            name = path[len(GENERATED_PREFIX) :]
            if not GENERATED_NAME.match(name) or name not in self.generated:
                raise self.refuse(url, "an image that was not generated for this document")
            self.served.append(path)
            mime = "image/svg+xml" if name.endswith(".svg") else "image/png"
            return URLFetcherResponse(url, self.generated[name], {"Content-Type": mime})
        if path.startswith(STATIC_PREFIX):
            candidate = (STATIC_ROOT / path[len(STATIC_PREFIX) :]).resolve()
            if (
                not candidate.is_relative_to(STATIC_ROOT)
                or candidate.suffix.lower() not in STATIC_TYPES
                or not candidate.is_file()
            ):
                raise self.refuse(url, "a file that is not one of the app's packaged assets")
            self.served.append(path)
            mime = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
            if candidate.suffix == ".css":
                mime = "text/css"
            return URLFetcherResponse(url, candidate.read_bytes(), {"Content-Type": mime})
        raise self.refuse(url, "an unknown path")


def generated_url(name: str) -> str:
    """The address under which a template refers to an image passed in ``generated`` (e.g. ``chart-1.svg``)."""
    if not GENERATED_NAME.match(name):
        raise ValueError(f"not a valid generated image name: {name!r}")
    return f"{ORIGIN}{GENERATED_PREFIX}{name}"


@contextmanager
def _thread_deadline(seconds: float) -> Iterator[None]:
    """Outside the main thread (the embedded worker's thread pool) no signal can interrupt a render: a timer raises
    :class:`_Timeout` in the rendering thread instead, at its next Python instruction (WeasyPrint lays out in
    Python)."""
    target = threading.get_ident()
    lock = threading.Lock()
    done = threading.Event()

    def interrupt() -> None:
        # Raised again every quarter second until the render has stopped: an exception that lands while the thread
        # runs a __del__ (WeasyPrint's FontConfiguration, collected mid-layout) is printed and dropped by Python, and
        # the render would run on to the end (seen: 25.9 s past a 0.5 s limit).
        if done.wait(seconds):
            return
        while True:
            with lock:
                if done.is_set():
                    return
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(_Timeout))
            if done.wait(0.25):
                return

    timer = threading.Thread(target=interrupt, name="pdf-deadline", daemon=True)
    _drop_timeouts_from_unraisable()
    timer.start()
    try:
        yield
    finally:
        with lock:
            done.set()
            # An interruption raised just as the render stopped must not surface later in this thread: clear it.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        with _thread_deadline(seconds):
            yield
        return

    def on_alarm(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    # The alarm repeats every 0.05 s after the limit: a _Timeout that lands while Python runs a weakref callback or a
    # __del__ is dropped by Python (seen in CI: raised inside WeakKeyDictionary's callback, the render ran on to the
    # end). The repeat interrupts the render at its next ordinary instruction; the dropped ones are ours and are
    # not reported as unraisable errors.
    _drop_timeouts_from_unraisable()
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _DropTimeouts:
    """An unraisable hook that drops this module's :class:`_Timeout` (an interruption Python dropped in a finaliser:
    ours, and the repeat above interrupts the render anyway) and passes everything else to the hook it wraps."""

    def __init__(self, previous) -> None:
        self.previous = previous

    def __call__(self, unraisable) -> None:
        if not isinstance(unraisable.exc_value, _Timeout):
            self.previous(unraisable)


def _drop_timeouts_from_unraisable() -> None:
    """Wrap ``sys.unraisablehook`` in :class:`_DropTimeouts` unless it is already. Installed for good, not swapped
    per render: renders in several threads restoring each other's hooks out of order could leave one render's
    dropped interruption reported, or the hooks chained (a _Timeout is never anything but ours, so dropping it
    after the render is harmless too)."""
    if not isinstance(sys.unraisablehook, _DropTimeouts):
        sys.unraisablehook = _DropTimeouts(sys.unraisablehook)


def html_to_pdf(html: str, generated: Mapping[str, bytes] | None = None, limits: Limits | None = None) -> RenderResult:
    """Render HTML (already escaped and sanitised) to a tagged A4 PDF through :class:`AssetFetcher`."""
    limits = limits or Limits()
    fetcher = AssetFetcher(generated)
    started = time.perf_counter()

    def too_slow() -> PdfLimitExceeded:
        return PdfLimitExceeded(
            f"The PDF took longer than {limits.max_seconds:g} seconds to render and was stopped. "
            "Shorten the briefing (fewer or shorter sections) and try again."
        )

    try:
        with _deadline(limits.max_seconds):
            document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render(pdf_tags=True)
            pages = len(document.pages)
            if time.perf_counter() - started > limits.max_seconds:
                raise too_slow()
            if pages > limits.max_pages:
                raise PdfLimitExceeded(
                    f"The briefing would run to {pages} pages; the limit is {limits.max_pages}. "
                    "Drop or shorten sections and try again."
                )
            pdf = document.write_pdf(pdf_tags=True)
    except _Timeout:
        raise too_slow() from None
    seconds = time.perf_counter() - started
    if seconds > limits.max_seconds:
        raise too_slow()
    log.info("rendered PDF: %s pages in %.2fs, %s resources refused", pages, seconds, len(fetcher.refused))
    return RenderResult(pdf=pdf, pages=pages, seconds=seconds, refused=fetcher.refused, served=fetcher.served)


def render_pdf(
    template: str,
    context: Mapping | None = None,
    generated: Mapping[str, bytes] | None = None,
    limits: Limits | None = None,
) -> RenderResult:
    """Render the Jinja ``template`` (under templates/, autoescaped) with ``context`` to a PDF. Needs an app context.

    Templates refer to the stylesheet relatively (``css/briefing.css``) and to generated images with
    :func:`generated_url`; nothing else can be fetched.
    """
    html = render_template(template, generated_url=generated_url, **dict(context or {}))
    return html_to_pdf(html, generated, limits)


# Charts -----------------------------------------------------------------------------------------------------------

CHART_CONFIG = {
    "font": "DejaVu Sans",
    "background": "white",
    "view": {"stroke": None},
    "mark": {"color": "#0b5a6b"},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "labelColor": "#1b1f24", "titleColor": "#1b1f24"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11},
    "title": {"fontSize": 13, "anchor": "start", "color": "#1b1f24"},
    "range": {"category": ["#0b5a6b", "#c75000", "#5b3a8c", "#2e7d32", "#8a6d00", "#9c2f4b"]},
}


def vegalite_svg(spec: Mapping) -> bytes:
    """A Vega-Lite specification (the same dict the web pages draw) as SVG for the PDF.

    Data must be inline (``data.values``): ``allowed_base_urls=[]`` stops vl-convert fetching anything.
    (webapp/charts.py may take this function over; the PDF keeps calling it from here.)
    """
    import vl_convert  # noqa: PLC0415 - heavy: the Vega renderer, loaded only when a chart is drawn

    svg = vl_convert.vegalite_to_svg(dict(spec), config=CHART_CONFIG, allowed_base_urls=[])
    return svg.encode()
