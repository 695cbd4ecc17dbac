"""Discord's HTTP rate limits (rate-limits.mdx): per-route buckets per top-level resource, and a global limit.

Every answer carries ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket``; a request on an exhausted
bucket gets 429 with ``retry_after`` and ``X-RateLimit-Scope`` (``global`` adds ``X-RateLimit-Global``).
discord.py reads these headers and paces itself, so a well-behaved bot never sees a 429.

The figures are Discord's usual ones (messages 5 per 5 s per channel, 50 requests per second globally);
the docs tell apps not to hard-code them, and the stand-in takes others as ``StandIn(rate_limits=...)``.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# route template -> (requests, seconds). Anything not listed uses DEFAULT_LIMIT.
DEFAULT_LIMITS: dict[tuple[str, str], tuple[int, float]] = {
    ("POST", "/channels/{channel_id}/messages"): (5, 5.0),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): (5, 5.0),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"): (5, 1.0),
    ("POST", "/webhooks/{app_id}/{token}"): (5, 2.0),
    ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}"): (5, 2.0),
}
DEFAULT_LIMIT = (50, 1.0)
GLOBAL_LIMIT = (50, 1.0)  # rate-limits.mdx: 50 requests per second per bot
# rate-limits.mdx: interaction endpoints are not bound to the global limit.
NOT_GLOBAL = ("/interactions/", "/webhooks/")
# Top-level resources (rate-limits.mdx); an interaction's callback is limited per interaction.
_MAJOR = re.compile(r"^/(channels|guilds)/(\d+)|^/webhooks/(\d+)/([^/]+)|^/interactions/(\d+)/([^/]+)")


@dataclass
class Window:
    limit: int
    period: float
    count: int = 0
    reset_at: float = 0.0

    def take(self, now: float) -> bool:
        if now >= self.reset_at:
            self.count, self.reset_at = 0, now + self.period
        if self.count >= self.limit:
            return False
        self.count += 1
        return True


@dataclass
class Verdict:
    headers: dict[str, str]
    retry_after: float | None = None  # set when the request is refused
    scope: str = "user"


@dataclass
class RateLimiter:
    limits: dict[tuple[str, str], tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    default: tuple[int, float] = DEFAULT_LIMIT
    global_limit: tuple[int, float] = GLOBAL_LIMIT
    clock: Callable[[], float] = time.monotonic
    enabled: bool = True
    _windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    _global: Window | None = None
    limited: list[str] = field(default_factory=list)  # what was refused with 429, for the log and tests

    def check(self, method: str, template: str, path: str) -> Verdict:
        now = self.clock()
        limit, period = self.limits.get((method, template), self.default)
        bucket = hashlib.sha1(f"{method} {template}".encode(), usedforsecurity=False).hexdigest()[:16]
        major = _MAJOR.match(path)
        key = (bucket, major.group(0) if major else "")
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window(limit, period)
        if not path.startswith(NOT_GLOBAL):
            if self._global is None:
                self._global = Window(*self.global_limit)
            if self.enabled and not self._global.take(now):
                after = max(0.001, self._global.reset_at - now)
                self.limited.append(f"global limit: {method} {path}")
                headers = {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global", "Retry-After": _ceil(after)}
                return Verdict(headers, retry_after=after, scope="global")
        allowed = window.take(now) if self.enabled else True
        if now >= window.reset_at:
            window.reset_at = now + period
        after = max(0.0, window.reset_at - now)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - window.count)),
            "X-RateLimit-Reset": f"{time.time() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
        if allowed:
            return Verdict(headers)
        self.limited.append(f"bucket {bucket} ({method} {template}): {limit} per {period:g}s")
        headers.update({"X-RateLimit-Scope": "user", "Retry-After": _ceil(after)})
        return Verdict(headers, retry_after=after)


def _ceil(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
