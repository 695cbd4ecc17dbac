"""What the stand-in remembers: requests, faults, interactions and their answers.

Tests assert on these records, so they hold the payloads exactly as the bot sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .state import EPHEMERAL, Attachment, Message

if TYPE_CHECKING:
    from .state import Channel, Guild, User

DISCORD_DEADLINE = 3.0
T = TypeVar("T")


@dataclass
class UploadedFile:
    field: str
    filename: str
    content: bytes
    content_type: str | None


@dataclass
class RecordedRequest:
    """One HTTP request the bot made, with what the stand-in answered."""

    method: str
    path: str  # relative to the API base, e.g. "/channels/1/messages"
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    headers: dict[str, str]
    at: float
    status: int = 0
    response: Any = None
    route: str | None = None  # route template that matched; None = unknown endpoint
    fault: bool = False  # answered by an injected fault
    invalid: bool = False  # refused by the spec's schema or a documented rule
    rate_limited: bool = False  # answered 429 by the stand-in's own rate limits (not an injected fault)
    global_limited: bool = False  # answered 429 by the stand-in's global limit (50 requests per second)
    late: bool = False  # an interaction's first response after Discord's 3 s deadline

    def matches(self, method: str | None = None, path: str | None = None, status: int | None = None) -> bool:
        return (
            (method is None or self.method == method.upper())
            and (path is None or path_matches(path, self.path))
            and (status is None or self.status == status)
        )


def path_matches(pattern: str, path: str) -> bool:
    """fnmatch-style patterns ("/interactions/*/callback"); "re:" prefix for regex."""
    if pattern.startswith("re:"):
        import re

        return re.fullmatch(pattern[3:], path) is not None
    return fnmatch.fnmatchcase(path, pattern)


@dataclass
class Fault:
    """Answer the next ``times`` matching requests with an error instead of handling them."""

    method: str
    path: str
    status: int
    times: int = 1
    retry_after: float = 0.05
    is_global: bool = False
    body: Any = None
    via: bool = True
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.hits >= self.times

    def response_body(self) -> Any:
        if self.body is not None:
            return self.body
        if self.status == 429:
            return {"message": "You are being rate limited.", "retry_after": self.retry_after, "global": self.is_global}
        return {"message": "500: Internal Server Error", "code": 0}


@dataclass
class Hold:
    """Keep the next matching request waiting until the test decides: `release()` handles it as usual (even if
    the bot has gone away meanwhile: Discord acted, the bot never heard), `drop()` answers 500 without acting.

    A test kills a bot process while Discord holds its request, as a crash mid-send would."""

    method: str
    path: str
    request: RecordedRequest | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    _decided: asyncio.Event = field(default_factory=asyncio.Event)
    _act: bool = True

    @property
    def taken(self) -> bool:
        return self.request is not None

    def release(self) -> None:
        """Handle the held request now."""
        self._decided.set()

    def drop(self) -> None:
        """Answer the held request 500 without acting on it."""
        self._act = False
        self._decided.set()

    async def wait(self, rec: RecordedRequest) -> bool:
        """Hold `rec` until decided; return whether to act on it."""
        self.request = rec
        self.reached.set()
        await self._decided.wait()
        return self._act


class Changes:
    """Wake waiters whenever something was recorded; also surfaces a crashed bot."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self.watched: list[asyncio.Task[Any]] = []

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    def watch(self, task: asyncio.Task[Any]) -> None:
        self.watched.append(task)
        task.add_done_callback(lambda _t: self.notify())

    def unwatch(self, task: asyncio.Task[Any]) -> None:
        if task in self.watched:
            self.watched.remove(task)

    def check_crashed(self) -> None:
        for task in self.watched:
            if task.done() and not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                raise AssertionError(f"the bot stopped with {exc!r}") from exc

    async def wait_for(self, predicate: Callable[[], T], within: float, what: str | Callable[[], str]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            self.check_crashed()
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                text = what() if callable(what) else what
                raise AssertionError(f"timed out after {within:g}s waiting for {text}")
            if self._event is None:
                self._event = asyncio.Event()
            # Also re-check every 20 ms: predicates may look at the bot's own state.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), min(remaining, 0.02))


@dataclass
class CallbackRecord:
    """The interaction response (POST .../callback) the stand-in accepted."""

    type: int
    data: dict[str, Any]
    attachments: list[Attachment]
    at: float
    request: RecordedRequest

    @property
    def content(self) -> str | None:
        return self.data.get("content")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.data.get("embeds") or []

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.data.get("components") or []

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def choices(self) -> list[dict[str, Any]]:
        return self.data.get("choices") or []

    @property
    def custom_ids(self) -> list[str]:
        out: list[str] = []
        stack = list(self.components)
        while stack:
            comp = stack.pop(0)
            if "custom_id" in comp:
                out.append(comp["custom_id"])
            stack.extend(comp.get("components") or [])
            for key in ("component", "accessory"):
                if isinstance(comp.get(key), dict):
                    stack.append(comp[key])
        return out


@dataclass
class EditRecord:
    """A change to a message made in answer to an interaction (update callback or webhook PATCH)."""

    message_id: int
    data: dict[str, Any]
    via: str  # "callback" (type 7) or "webhook"
    at: float


@dataclass(eq=False)
class InteractionResult:
    """One injected interaction and everything the bot did with its token."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    guild: Guild | None
    user: User
    channel: Channel
    changes: Changes
    default_timeout: float
    dispatched_at: float = field(default_factory=time.perf_counter)
    response: CallbackRecord | None = None
    rejections: list[RecordedRequest] = field(default_factory=list)
    followups: list[Message] = field(default_factory=list)
    edits: list[EditRecord] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    message: Message | None = None  # the message the response created or updated
    source_message: Message | None = None  # for components: the message clicked
    opener: InteractionResult | None = None  # for modal submits: the interaction that opened the modal

    @property
    def message_id(self) -> int | None:
        return None if self.message is None else self.message.id

    @property
    def latency(self) -> float | None:
        """Seconds from dispatch to the accepted callback."""
        return None if self.response is None else self.response.at - self.dispatched_at

    @property
    def late(self) -> bool:
        """True when the callback missed Discord's 3 s deadline (or never came)."""
        latency = self.latency
        return latency is None or latency > DISCORD_DEADLINE

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices (type 8 response)."""
        return [] if self.response is None else self.response.choices

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal definition (type 9 response)."""
        if self.response is None or self.response.type != 9:
            return None
        return self.response.data

    def _describe(self) -> str:
        text = f"the bot to answer interaction {self.id} (type {self.type}"
        name = (self.payload.get("data") or {}).get("name") or (self.payload.get("data") or {}).get("custom_id")
        if name:
            text += f", {name!r}"
        text += ")"
        if self.rejections:
            bodies = "; ".join(f"{r.status} {r.response}" for r in self.rejections)
            text += f"; callbacks rejected: {bodies}"
        return text

    async def wait_response(self, within: float | None = None) -> CallbackRecord:
        within = self.default_timeout if within is None else within
        return await self.changes.wait_for(lambda: self.response, within, self._describe)

    async def answer(self, within: float | None = None) -> CallbackRecord | Message:
        """What the user sees as the bot's answer: the response, or after a deferral ("thinking…") the followup."""
        response = await self.wait_response(within)
        if response.type == 5:
            return await self.wait_followup(1, within)
        return response

    async def wait_followup(self, n: int = 1, within: float | None = None) -> Message:
        """The n-th followup message (1-based)."""
        within = self.default_timeout if within is None else within
        await self.changes.wait_for(
            lambda: len(self.followups) >= n, within, lambda: f"followup #{n} for interaction {self.id}"
        )
        return self.followups[n - 1]

    async def wait_edit(self, n: int = 1, within: float | None = None) -> EditRecord:
        within = self.default_timeout if within is None else within
        await self.changes.wait_for(
            lambda: len(self.edits) >= n, within, lambda: f"edit #{n} for interaction {self.id}"
        )
        return self.edits[n - 1]

    async def wait_rejection(self, within: float | None = None) -> RecordedRequest:
        """The first request on this interaction's token that the stand-in answered with 4xx."""
        within = self.default_timeout if within is None else within
        await self.changes.wait_for(
            lambda: self.rejections, within, lambda: f"a rejected request for interaction {self.id}"
        )
        return self.rejections[0]
