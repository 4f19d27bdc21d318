"""HTTP front end and the Simulator object tests drive.

Pipeline for /api/1.0 requests: auth (401) -> rate limiters (429, per token)
-> injected faults -> latency -> endpoint. The latency sleep happens while the
request holds its concurrency slot, so slow requests pile up against the
concurrent-request cap exactly as they would against Asana's.
"""
from __future__ import annotations

import json
import math
import socket
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import control, handlers
from .errors import RATE_LIMIT_MESSAGE, ApiError, error_body
from .events import DAY_S, EventLog
from .faults import Faults
from .generator import WorkspaceSpec
from .pagination import Paginator
from .quota import QuotaLimiter, RateLimited
from .store import Store

API_PREFIX = "/api/1.0"
CONTROL_PREFIX = "/_sim"

_STATUS_MESSAGES = {
    401: "Not Authorized",
    402: "This feature is only available to premium users.",
    403: "Forbidden",
    500: "Server Error",
    503: "Service Unavailable. The API is temporarily unavailable, please retry later.",
}
# Load-balancer failures don't come from Asana's app servers, so their bodies
# are not Asana JSON (see README): clients must not assume a JSON error body.
_HTML_BODIES = {
    502: b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
         b"</h1></center></body></html>\n",
    504: b"<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway "
         b"Time-out</h1></center></body></html>\n",
}


class RequestRecord:
    """One logged API request. Attribute and item access both work
    (r.status / r["status"]). path is the full request path
    ("/api/1.0/tasks"); api_path is relative to /api/1.0 ("/tasks").
    status 0: connection dropped before any response; negative status:
    response cut mid-body (-200 = a 200 whose body was truncated)."""
    __slots__ = ("method", "path", "api_path", "query", "route", "status", "started_at",
                 "latency_ms", "fault", "ignored_params")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self):
        return f"<{self.method} {self.path} {self.query} -> {self.status}>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 makes bursts of parallel connections stall on
    # SYN retries; Asana's edge obviously accepts them.
    request_queue_size = 256

    def __init__(self, addr, handler, sim):
        self.sim = sim
        self.open_sockets: set = set()
        self.sockets_lock = threading.Lock()
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        # Clients hanging up (and our own injected drops) are routine here.
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive; every response has Content-Length
    server_version = "asana-simulator"
    sys_version = ""

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus
        # the client's delayed ACK adds ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):
        pass

    # every method funnels here; only GET exists in the API
    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")

    def _read_body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self, method):
        sim = self.server.sim
        body = self._read_body()
        url = urlsplit(self.path)
        if url.path.startswith(CONTROL_PREFIX + "/") or url.path == CONTROL_PREFIX:
            return self._control(method, url, body)
        started = time.time()
        t0 = time.perf_counter()
        pairs = parse_qsl(url.query, keep_blank_values=True)
        params, order = {}, []
        for k, v in pairs:
            if k not in params:
                order.append(k)
            params[k] = v
        entry = {"method": method, "path": url.path,
                 "api_path": url.path[len(API_PREFIX):] if url.path.startswith(
                     API_PREFIX + "/") else url.path,
                 "query": dict(params), "route": None, "status": None,
                 "started_at": started, "latency_ms": None, "fault": None, "ignored_params": []}
        self._entry, self._t0 = entry, t0
        try:
            self._api(sim, method, url, params, order, entry)
        finally:
            self._log_entry()

    def _log_entry(self):
        # Logged before the response is written, so a client that has its
        # response can rely on the request being in sim.requests.
        entry, self._entry = self._entry, None
        if entry is not None:
            entry["latency_ms"] = (time.perf_counter() - self._t0) * 1000
            self.server.sim._log(RequestRecord(**entry))

    def _api(self, sim, method, url, params, order, entry):
        if not url.path.startswith(API_PREFIX + "/"):
            return self._send_error(entry, 404, "No matching route for request")
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token is None or token != sim.token:
            return self._send_error(entry, 401, _STATUS_MESSAGES[401])
        try:
            sim.quota.acquire(token)
        except RateLimited as rl:
            entry["fault"] = f"rate_limit:{rl.reason}"
            retry_after = rl.retry_after
            if rl.reason == "concurrency":
                # Long enough for the requests in flight now to have finished.
                slowest = (sim.faults.latency_ms + sim.faults.jitter_ms) / 1000
                retry_after = max(retry_after, math.ceil(slowest))
            return self._send_error(entry, 429, RATE_LIMIT_MESSAGE,
                                    {"Retry-After": str(retry_after)})
        try:
            sim._count_api_request()
            fault = sim.faults.decide(entry["api_path"])
            sim.faults.sleep(sim.faults.latency_s())
            if fault is not None:
                entry["fault"] = fault.kind if fault.kind != "status" else str(fault.status)
                if fault.kind == "drop":
                    return self._drop(entry)
                if fault.kind == "status":
                    headers = {}
                    if fault.status == 429:
                        headers["Retry-After"] = str(fault.retry_after or 1)
                    msg = fault.message or (RATE_LIMIT_MESSAGE if fault.status == 429 else
                                            _STATUS_MESSAGES.get(fault.status, "Server Error"))
                    return self._send_error(entry, fault.status, msg, headers)
            sim._run_before(entry["api_path"])
            ctx = handlers.Ctx(sim, entry["api_path"], params, order)
            try:
                body = handlers.dispatch(ctx, method)
                status = 200
            except ApiError as e:
                status, body = e.status, e.body()
            except Exception:  # noqa: BLE001 - a simulator bug: answer like Asana would, keep serving
                traceback.print_exc()
                status, body = 500, error_body(500, "Server Error")
            entry["route"] = ctx.route
            entry["ignored_params"] = ctx.ignored_params
            if fault is not None and fault.malformed and status == 200:
                body, content_type = fault.mangle(body)
                if content_type is not None:
                    return self._send(entry, status, body, content_type=content_type)
            payload = _dumps(body, "opt_pretty" in params)
            if fault is not None and fault.kind == "drop_mid_body":
                return self._send_partial(entry, status, payload)
            self._send(entry, status, payload)
        finally:
            sim.quota.release(token)

    # --- responses ------------------------------------------------------------
    def _send(self, entry, status, payload: bytes, headers=None,
              content_type="application/json; charset=UTF-8"):
        entry["status"] = status
        self._log_entry()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_error(self, entry, status, message, headers=None):
        if status in _HTML_BODIES:
            return self._send(entry, status, _HTML_BODIES[status], headers,
                              "text/html; charset=UTF-8")
        self._send(entry, status, _dumps(error_body(status, message)), headers)

    def _drop(self, entry):
        entry["status"] = 0
        self._log_entry()
        self.close_connection = True
        self._abort()

    def _send_partial(self, entry, status, payload):
        entry["status"] = -status
        self._log_entry()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: max(1, len(payload) // 2)])
        self.wfile.flush()
        self.close_connection = True
        self._abort()

    def _abort(self):
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- control --------------------------------------------------------------
    def _control(self, method, url, body):
        host = self.client_address[0]
        if host not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            status, out = 403, {"error": "control interface is loopback-only"}
        else:
            status, out = control.handle(self.server.sim, method, url.path[len(CONTROL_PREFIX):],
                                         dict(parse_qsl(url.query)), body)
        payload = json.dumps(out, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _dumps(obj, pretty=False) -> bytes:
    if pretty:
        return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Simulator:
    """A running simulated Asana (start() serves on 127.0.0.1 in a thread)."""

    def __init__(self, spec: WorkspaceSpec | None = None, *, token: str = "sim-token",
                 quota_per_minute: int | None = None, max_concurrent: int | None = 50,
                 latency_ms: float = 0, latency_jitter_ms: float = 0,
                 offset_ttl_s: float | None = None, host: str = "127.0.0.1", port: int = 0,
                 fault_rate: float = 0.0, fault_kinds=None, fault_seed: int = 0,
                 quota_window_s: float = 60.0, clock=None, events_bubble_all_levels: bool = False,
                 sync_token_ttl_s: float | None = DAY_S):
        self.spec = spec or WorkspaceSpec()
        self.token = token
        self.host = host
        self.port = port
        self.events = EventLog(bubble_all_levels=events_bubble_all_levels, token_ttl_s=sync_token_ttl_s)
        self.store = Store(self.spec, clock=clock, events=self.events)
        self.quota = QuotaLimiter(quota_per_minute, max_concurrent, window_s=quota_window_s)
        self.faults = Faults(rate=fault_rate, seed=fault_seed, latency_ms=latency_ms,
                             jitter_ms=latency_jitter_ms,
                             **({"kinds": fault_kinds} if fault_kinds else {}))
        self.paginator = Paginator(offset_ttl_s)
        self._log_lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._expire_countdown: int | None = None
        self._before: list[tuple[str, Callable[[], object]]] = []   # (api path prefix, action): before_request
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------
    def start(self) -> Simulator:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"asana-simulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        srv, self._server = self._server, None
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        # Idle keep-alive connections would otherwise linger in their threads.
        with srv.sockets_lock:
            socks = list(srv.open_sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- addresses ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX

    @property
    def org_workspace_gid(self) -> str:
        return self.store.org.gid

    @property
    def personal_workspace_gid(self) -> str:
        return self.store.personal.gid

    @property
    def workspace_gid(self) -> str:
        return self.org_workspace_gid

    # --- control helpers ------------------------------------------------------------
    def expire_offsets(self) -> None:
        """Every offset issued so far answers 400 'expired' from now on."""
        self.paginator.expire_all()

    def expire_offsets_after(self, requests: int) -> None:
        """Expire every outstanding offset once `requests` more API requests
        have been admitted (to hit expiry in the middle of a listing)."""
        with self._log_lock:
            self._expire_countdown = requests

    def _count_api_request(self):
        with self._log_lock:
            if self._expire_countdown is None:
                return
            if self._expire_countdown <= 0:
                self._expire_countdown = None
                fire = True
            else:
                self._expire_countdown -= 1
                fire = False
        if fire:
            self.paginator.expire_all()

    def before_request(self, path_prefix: str, action: Callable[[], object]) -> None:
        """Call action() once, just before the first API request from now on
        whose path (relative to /api/1.0) starts with path_prefix is
        answered: a change made at an exact point of a client's run."""
        with self._log_lock:
            self._before.append((path_prefix, action))

    def _run_before(self, api_path: str) -> None:
        with self._log_lock:
            due = [hook for hook in self._before if api_path.startswith(hook[0])]
            self._before = [hook for hook in self._before if hook not in due]
        for _, action in due:
            action()

    def set_offset_ttl(self, seconds: float | None) -> None:
        self.paginator.ttl_s = seconds

    def _log(self, entry):
        with self._log_lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[RequestRecord]:
        """Logged API requests, oldest first (see RequestRecord)."""
        with self._log_lock:
            return list(self._requests)

    def reset_request_log(self) -> None:
        """Clear the log and the per-run limiter statistics shown in stats."""
        with self._log_lock:
            self._requests.clear()
        self.quota.reset_stats()

    def request_count(self, path_prefix: str | None = None, status: int | None = None,
                      route: str | None = None) -> int:
        """Count logged requests; path_prefix may be full ("/api/1.0/tasks")
        or relative to the API base ("/tasks")."""
        return sum(1 for r in self.requests
                   if (path_prefix is None or r.path.startswith(path_prefix)
                       or r.api_path.startswith(path_prefix))
                   and (status is None or r.status == status)
                   and (route is None or r.route == route))

    def request_stats(self) -> dict:
        reqs = self.requests
        by_status: dict[str, int] = {}
        by_route: dict[str, int] = {}
        for r in reqs:
            by_status[str(r.status)] = by_status.get(str(r.status), 0) + 1
            key = r.route or r.path
            by_route[key] = by_route.get(key, 0) + 1
        lat = sorted(r.latency_ms for r in reqs if r.latency_ms is not None)
        return {
            "total": len(reqs), "by_status": by_status, "by_route": by_route,
            "latency_ms": {
                "p50": lat[len(lat) // 2] if lat else None,
                "p95": lat[int(len(lat) * 0.95)] if lat else None,
                "max": lat[-1] if lat else None,
            },
            "max_in_flight": self.quota.max_in_flight_seen,
            "rejected": {"quota": self.quota.rejected_quota,
                         "concurrency": self.quota.rejected_concurrency},
            "faults_injected": dict(self.faults.injected_by_kind),
        }

    def info(self) -> dict:
        return {
            "api_url": self.api_url, "control_url": self.control_url, "token": self.token,
            "workspace_gid": self.org_workspace_gid,
            "org_workspace_gid": self.org_workspace_gid,
            "personal_workspace_gid": self.personal_workspace_gid,
            "seed": self.spec.seed, "sizes": self.store.counts(),
            "quota_per_minute": self.quota.per_minute,
            "max_concurrent": self.quota.max_concurrent,
            "latency_ms": self.faults.latency_ms, "offset_ttl_s": self.paginator.ttl_s,
            "events": {"recorded": len(self.events), "dropped": self.events.dropped,
                       "bubble_all_levels": self.events.bubble_all_levels,
                       "token_ttl_s": self.events.token_ttl_s},
        }
