"""TapAsana: settings, streams, and the objects a run shares between them."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from functools import cached_property
from urllib.parse import urlsplit

from singer_sdk import Tap

from tap_asana.http.client import AsanaClient
from tap_asana.http.errors import AsanaUserError
from tap_asana.http.rate_limiter import RateLimiter
from tap_asana.progress import Progress
from tap_asana.settings import CONFIG_SCHEMA
from tap_asana.shared_listings import SharedListings
from tap_asana.singer_output import BufferedSingerWriter
from tap_asana.streams import ALL_STREAMS
from tap_asana.streams.base import AsanaStream


class InsecureApiUrl(AsanaUserError):
    pass


class TapAsana(Tap):
    """Asana to Singer: every documented field; incremental tasks, subtasks and stories, with removals."""

    name = "tap-asana"
    package_name = "tap-asana-omniload"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = BufferedSingerWriter

    def discover_streams(self) -> list:
        return [stream_class(tap=self) for stream_class in ALL_STREAMS]

    # singer-sdk marks load_streams and sync_all final; overriding them is
    # deliberate (the order streams share listings in, the client's close).
    def load_streams(self) -> list:  # type: ignore[misc]
        # singer-sdk sorts streams by name; we sync in ALL_STREAMS order so that
        # the project and task lists one stream takes are reused by the next.
        order = {stream_class.name: i for i, stream_class in enumerate(ALL_STREAMS)}  # type: ignore[misc]
        return sorted(super().load_streams(), key=lambda stream: order[stream.name])

    @cached_property
    def started_at(self) -> datetime:
        return datetime.now(timezone.utc)

    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(
            requests_per_minute=self.config.get("requests_per_minute"),
            max_in_flight=int(self.config["concurrency"]),
        )

    @cached_property
    def client(self) -> AsanaClient:
        api_url = self.config["api_url"]
        check_api_url(api_url, allow_insecure=bool(self.config.get("allow_insecure_api_url")))
        self.started_at  # noqa: B018 - fix the run's start before any request
        return AsanaClient(
            api_url=api_url,
            access_token=self.config["access_token"],
            limiter=self.limiter,
            request_timeout=float(self.config["request_timeout"]),
            max_tries=int(self.config["max_tries"]),
            user_agent=f"{self.name}/{self.plugin_version}",
        )

    @cached_property
    def listings(self) -> SharedListings:
        return SharedListings(
            self.client,
            workspace_gid=self.config.get("workspace_gid"),
            page_size=int(self.config["page_size"]),
            concurrency=int(self.config["concurrency"]),
        )

    @cached_property
    def progress(self) -> Progress:
        return Progress(self.limiter, float(self.config["progress_interval_seconds"]))

    def sync_all(self) -> None:  # type: ignore[misc]
        try:
            extracted = [stream for stream in self.streams.values()
                         if isinstance(stream, AsanaStream) and stream.selected and not stream.mapped_away]
            self.listings.prefetch(request for stream in extracted for request in stream.first_requests())
            for stream in extracted:
                if type(stream).first_request_for_task is not AsanaStream.first_request_for_task:
                    self.listings.read_ahead(stream.first_request_for_task)   # stories, so far
            super().sync_all()
        finally:
            if "progress" in self.__dict__:
                self.progress.close()
            if "listings" in self.__dict__:
                self.listings.close()
            if "client" in self.__dict__:
                self.client.close()


def check_api_url(api_url: str, *, allow_insecure: bool) -> None:
    """Refuse to send the token in clear text, except to this machine."""
    parts = urlsplit(api_url)
    if parts.scheme == "https":
        return
    if parts.scheme != "http":
        raise InsecureApiUrl(f"api_url must be an http(s) URL, got scheme {parts.scheme!r}")
    if allow_insecure or _is_loopback(parts.hostname or ""):
        return
    raise InsecureApiUrl(
        "api_url uses plain http outside this machine, which would send the token "
        "in clear text; use https (or set allow_insecure_api_url)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
