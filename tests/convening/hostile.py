"""Hostile text for every user-editable field, a local HTTP listener that records requests, and a PDF inspector."""

from __future__ import annotations

import re
import threading
import zlib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Listener:
    def __init__(self):
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                listener.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(b"\x89PNG\r\n\x1a\n")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def listening():
    listener = Listener()
    listener.thread.start()
    try:
        yield listener
    finally:
        listener.server.shutdown()
        listener.server.server_close()


def payloads(url: str) -> list[str]:
    """Each of these goes into every field a person can type into."""
    return [
        '<link rel="attachment" href="file:///etc/passwd">',
        '<a rel="attachment" href="file:///etc/passwd">passwd</a>',
        f'<img src="{url}/img.png">',
        '<img src="https://commintel.invalid/static/../../../../etc/passwd">',
        f"<style>@import url({url}/import.css); body {{ background: url({url}/bg.png); font-size: 99999999px; "
        "width: 1e30px }</style>",
        f'<p style="background-image: url({url}/style.png); margin-left: 100000000cm; font-size: 1e9pt">styled</p>',
        f'<object data="{url}/obj"></object><iframe src="{url}/frame"></iframe><embed src="file:///etc/passwd">',
        f"![image]({url}/markdown.png) [link](file:///etc/passwd)",
        '<svg><image href="file:///etc/passwd"/></svg>',
        "<img src=\"data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg'><image href='file:///etc/passwd'/></svg>\">",
    ]


def hostile_text(url: str) -> str:
    return " ".join(payloads(url))


_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def pdf_plain(pdf: bytes) -> bytes:
    """The PDF with every Flate stream inflated, so that a search sees inside object streams too."""
    parts = [pdf]
    for m in _STREAM.finditer(pdf):
        try:
            parts.append(zlib.decompress(m.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def embedded_files(pdf: bytes) -> list[bytes]:
    plain = pdf_plain(pdf)
    return re.findall(rb"/(EmbeddedFiles?|FileAttachment|AF)\b", plain)
