"""Asana's error envelope and the exception the handlers raise to produce it."""
from __future__ import annotations

import random

HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)

RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. "
    "Please retry after the given amount of time."
)

_PHRASE_WORDS = (
    ["sad", "happy", "sleepy", "brave", "quiet", "fuzzy", "tiny", "grumpy"],
    ["squid", "otter", "panda", "llama", "badger", "falcon", "walrus", "gecko"],
    ["snuggle", "wander", "juggle", "whistle", "tumble", "giggle", "dance", "ponder"],
    ["softly", "loudly", "quickly", "gently", "boldly", "calmly", "oddly", "sweetly"],
)
_phrase_rng = random.Random(0xA5A7A)


def phrase() -> str:
    # Asana's 500s carry a random memorable phrase to quote to support.
    w = [_phrase_rng.choice(ws) for ws in _PHRASE_WORDS]
    return f"{_phrase_rng.randint(2, 9)} {w[0]} {w[1]} {w[2]} {w[3]}"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}   # top-level keys beside "errors" (the 412's fresh "sync")

    def body(self) -> dict:
        return {**error_body(self.status, self.message), **self.extra}


def error_body(status: int, message: str) -> dict:
    err = {"message": message, "help": HELP}
    if status >= 500:
        err["phrase"] = phrase()
    return {"errors": [err]}


def not_found_id(param: str, gid: str) -> ApiError:
    return ApiError(404, f"{param}: Not a recognized ID: {gid}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)
