"""HTTP plumbing: routing, shaping, faults, and the `Emulator` that runs it all in a thread.

Owns: the HTTP server: routing, shaping, faults, and `Emulator`, which runs it in a thread.
Imports: the standard library and `vipfs.emulator` api, body, config, control, demo, faults, host,
hostile, keys, mangle, node, response, store, virtual only; never `vipfs.api` or `vipfs.vfs`.

`ThreadingHTTPServer` with HTTP/1.1 gives keep-alive and one thread per connection, which is
what real clients (httpx pools) expect of a host.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from vipfs.emulator import api, control, hostile, keys, mangle, node, virtual
from vipfs.emulator.body import Body, BodyError, Throttle
from vipfs.emulator.config import PRE_FAULTS, EmulatorConfig
from vipfs.emulator.faults import HTML_500, disturb, fault_page, rate_limit_reply
from vipfs.emulator.host import Host
from vipfs.emulator.response import HTML_TYPE, JSON_TYPE, Response
from vipfs.emulator.store import Store

API_RE = re.compile(r"/api/(\w+)/(\w+)")
FORM_LIMIT = 10 << 20
NOT_FOUND = (
    "<!DOCTYPE html><html><head><title>404 - Page not found</title></head>"
    "<body><h1>Page not found</h1></body></html>\n"
)


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: Host) -> None:
        self.host = host
        self.tls = tls_context(host.config)
        super().__init__(("127.0.0.1", host.config.port), Handler)

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A failed TLS handshake (plain http sent to the https port) just drops the client."""
        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            return
        super().handle_error(request, client_address)


def tls_context(config: EmulatorConfig) -> ssl.SSLContext | None:
    """The server side of https when both a certificate and its key are configured."""
    if config.tls_cert is None and config.tls_key is None:
        return None
    if config.tls_cert is None or config.tls_key is None:
        raise ValueError("TLS needs both a certificate and its key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"  # what the Server header of a real host says
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: EmulatorHTTPServer

    def setup(self) -> None:
        """With TLS, the handshake runs here, in the connection's own thread, not in accept."""
        if self.server.tls is not None:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.server.tls is not None:  # socketserver closes only the raw, detached socket
                self.request.close()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.host.config.verbose:
            text = format % args
            super().log_message("%s", re.sub(r"((?:api_)?key=)[^&\s]+", r"\1***", text))

    # -- request ----------------------------------------------------------------------------
    def _body(self, throttle: bool = False, stall: bool = False) -> Body:
        length = int(self.headers.get("Content-Length") or 0)
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        config = self.server.host.config
        stall_at = None
        if stall:
            stall_at = max(1, length // 2) if length else 65536
        return Body(
            self.rfile,
            length,
            chunked,
            throttle=Throttle(config.bandwidth_mbps) if throttle else None,
            stall_at=stall_at,
            stall_seconds=config.stall_seconds,
        )

    def _handle(self) -> None:
        """Route one request; a bug becomes an HTML 500, as a Perl `die` does on a real host."""
        self._answered = False
        try:
            self._route()
        except Exception:
            sys.stderr.write("vipfs emulator: request failed\n" + traceback.format_exc())
            self.close_connection = True
            if not self._answered:
                self._send(Response(500, HTML_TYPE, HTML_500))

    def _route(self) -> None:
        host = self.server.host
        config = host.config
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = {
            k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()
        }
        if path.startswith("/_emu/"):
            body = self._body().read_all(FORM_LIMIT) if self.command in ("POST", "PUT") else b""
            self._send(control.handle(host, self.command, path, body))
            return
        api_match = API_RE.fullmatch(path)
        is_upload = path == "/upload/01" and self.command == "POST"
        is_link = path.startswith("/v/") and self.command in ("GET", "HEAD")
        if not (api_match or is_upload or is_link):
            self._drain_or_close()
            self._send(Response.html(404, NOT_FOUND))
            return
        if config.down and not is_link:
            self._send(Response(0, "", reset=True))
            return
        if api_match:
            host.count(f"{api_match.group(1)}/{api_match.group(2)}")
        elif is_upload:
            host.count("upload")
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000)
        fault = None if is_link else host.dice.draw(config, upload=is_upload)
        if fault is not None:
            host.count("faulted")
        if fault in PRE_FAULTS:
            self._send(self._pre_fault(fault))
            return
        try:
            if api_match:
                self._send(self._api(f"{api_match.group(1)}/{api_match.group(2)}", query, fault))
            elif is_upload:
                stream = self._body(throttle=True, stall=fault == "stall-upload")
                ctype = self.headers.get("Content-Type") or ""
                try:
                    reply = node.upload(host, stream, ctype, fault)
                finally:  # a body cut off midway still came in over the line
                    host.add_traffic("upload_bytes", stream.consumed)
                self._send(reply)
            else:
                self._send(
                    node.serve_link(
                        host,
                        path,
                        query,
                        self.headers.get("Range"),
                        self.command == "HEAD",
                        self.client_address[0],
                    ),
                    throttle=True,
                )
        except BodyError:
            self.close_connection = True

    def _pre_fault(self, fault: str | None) -> Response:
        assert fault is not None
        if fault == "reset":
            return Response(0, "", reset=True)
        self._drain_or_close()
        page = fault_page(fault)
        if page is not None:
            status, ctype, headers, text = page
            return Response(status, ctype, text, headers)
        reply = rate_limit_reply(self.server.host.config)
        reply["server_time"] = self.server.host.fmt_time(self.server.host.now())
        return Response.json(reply)

    def _api(self, op: str, query: dict[str, str], fault: str | None) -> Response:
        host = self.server.host
        params = dict(query)
        uploads: dict[str, tuple[str, int]] = {}
        if self.command == "POST":
            ctype = (self.headers.get("Content-Type") or "").lower()
            body = self._body()
            if ctype.startswith("multipart/"):
                form = node.read_form(host, body, ctype, FORM_LIMIT)
                params.update(form.fields)
                uploads = {name: (sink.filename, sink.size) for name, sink in form.files}
                form.discard()
            else:
                raw = body.read_all(FORM_LIMIT)
                if not body.done:
                    self.close_connection = True
                form_params = urllib.parse.parse_qs(
                    raw.decode("utf-8", "replace"), keep_blank_values=True
                )
                params.update({k: v[0] for k, v in form_params.items()})
        cap = host.config.max_concurrent
        with host.in_flight_lock:
            host.in_flight += 1
            crowded = bool(cap) and host.in_flight > cap
        try:
            if crowded:
                return Response(520, "text/plain; charset=UTF-8", b"error code: 520")
            reply = api.answer(host, op, params, uploads, self.client_address[0])
        finally:
            with host.in_flight_lock:
                host.in_flight -= 1
        kind = host.config.hostile_for(op)
        if kind:
            return hostile.reply_for(kind, reply, host.config.hostile_bytes)
        if op == "folder/list" and mangle.flag(params.get("files")):
            streamed = virtual.synthetic_listing(
                host, reply, params.get("fld_id"), lambda row: api.list_item(host, row, host.now())
            )
            if streamed is not None:
                return streamed
        if fault is not None:
            return Response(200, JSON_TYPE, disturb(fault, reply))
        return Response.json(reply)

    def _drain_or_close(self) -> None:
        """Consume a small unread body so keep-alive survives; close instead for a big one."""
        length = int(self.headers.get("Content-Length") or 0)
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        if chunked or length > FORM_LIMIT:
            if self.command == "POST" and self.path.startswith("/upload/"):
                try:
                    self._body(throttle=True).drain()  # an upload is read to the end first
                except BodyError:
                    self.close_connection = True
                return
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    # -- response ---------------------------------------------------------------------------
    def _send(self, response: Response, throttle: bool = False) -> None:
        if response.reset:
            self._reset()
            return
        self._answered = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        length = response.length if response.stream is not None else len(response.body)
        self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        shaper = Throttle(self.server.host.config.bandwidth_mbps) if throttle else None
        try:
            if response.stream is None:
                self.wfile.write(response.body)
                return
            for chunk in response.stream:
                self.wfile.write(chunk)
                if shaper is not None:
                    shaper.spend(len(chunk))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _reset(self) -> None:
        """Close without answering: SO_LINGER 0 makes the close an RST, like a dead server."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class Emulator:
    """An emulated XVS host running in a background thread.

    with Emulator(EmulatorConfig(direct_link=True)) as emu:
        httpx.get(f"{emu.api_url}/account/info", params={"key": emu.key})
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._own_dir = self.config.data_dir is None
        self.data_dir = (
            Path(tempfile.mkdtemp(prefix="vipfs-emu-"))
            if self._own_dir
            else Path(self.config.data_dir or ".")
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir, durable=not self._own_dir)
        self.host = Host(self.config, self.store)
        self.keys: list[str] = []
        self.generated_key_file: Path | None = None
        self._load_accounts()
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _load_accounts(self) -> None:
        entries: list[tuple[str, str | None]] = []
        if self.config.key_files:
            entries = [keys.read_key_file(Path(p)) for p in self.config.key_files]
        else:
            path = self.data_dir / "api.key"
            if not path.exists():
                keys.write_key_file(path, keys.generate_key(1))
            self.generated_key_file = path
            entries = [keys.read_key_file(path)]
        seen: set[int] = set()
        for key, login in entries:
            usr_id = keys.user_id(key)
            if usr_id in seen:
                raise keys.KeyFileError(f"two key files for user id {usr_id}")
            seen.add(usr_id)
            self.store.ensure_account(usr_id, login or f"user{usr_id}", key)
            self.keys.append(key)

    @property
    def key(self) -> str:
        return self.keys[0]

    @property
    def base_url(self) -> str:
        return self.host.site_url

    @property
    def api_url(self) -> str:
        return f"{self.host.site_url}/api"

    def start(self) -> Emulator:
        self._server = EmulatorHTTPServer(self.host)
        port = self._server.server_address[1]
        self.host.site_url = f"{self._server.scheme}://127.0.0.1:{port}"
        if self.config.seed_demo and self.store.meta("demo_seeded", "0") == "0":
            from vipfs.emulator.demo import seed_demo

            seed_demo(self.host)
            self.store.update_meta("demo_seeded", "1")
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), name="vipfs-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for worker in self.host.workers:
            worker.join(timeout=5)
        self.store.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the control surface, in process ------------------------------------------------------
    def calls(self) -> dict[str, int]:
        return self.host.calls()

    def reset_calls(self) -> None:
        self.host.reset_calls()

    def traffic(self) -> dict[str, int]:
        return self.host.traffic()

    def set_faults(self, changes: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        self.config.apply({**(changes or {}), **kw})
        return self.config.switches()

    def seed(self, spec: dict[str, Any]) -> dict[str, Any]:
        return control.seed(self.host, spec)

    def files(self) -> list[dict[str, Any]]:
        return control.files(self.host)
