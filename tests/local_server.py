"""The one local HTTP server of the tests: a handler class served on 127.0.0.1, on a free port,
in a thread, for as long as the ``with`` block lasts (no other address is ever contacted).

    with serving(Shop) as base:        # "http://127.0.0.1:PORT"
        ...
"""
import contextlib
import threading
from http.server import ThreadingHTTPServer


@contextlib.contextmanager
def serving(handler):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def send_body(handler, body: bytes) -> None:
    """The rest of a reply whose status line is sent: its length, the end of the headers, the body."""
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
