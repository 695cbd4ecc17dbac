"""The gateway websocket: HELLO/IDENTIFY/READY, heartbeats, dispatches and RESUME.

Dispatching is synchronous (events are queued per connection and written in order by
one writer task), so world-building calls in tests need no ``await``. Every dispatch is
kept in the session log; a RESUME replays what the client missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

log = logging.getLogger("standin.gateway")

if TYPE_CHECKING:
    from .server import StandIn

# Gateway intents the stand-in honours when it dispatches on its own.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MODERATION = 1 << 2
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1  # gateway.mdx lists intents up to DIRECT_MESSAGE_POLLS (1 << 25)
# application flags (application.mdx) that enable each privileged intent (limited or full)
INTENT_FLAGS = {
    GUILD_PRESENCES: (1 << 12) | (1 << 13),
    GUILD_MEMBERS: (1 << 14) | (1 << 15),
    MESSAGE_CONTENT: (1 << 18) | (1 << 19),
}
MAX_PAYLOAD_BYTES = 4096  # gateway.mdx: larger client payloads close the connection with 4002

# Gateway close codes (opcodes-and-status-codes.mdx).
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTHENTICATION_FAILED = 4001, 4002, 4003, 4004
ALREADY_AUTHENTICATED, INVALID_SEQ = 4005, 4007
RATE_LIMITED, SESSION_TIMED_OUT, INVALID_SHARD, SHARDING_REQUIRED = 4008, 4009, 4010, 4011
INVALID_INTENTS, DISALLOWED_INTENTS = 4013, 4014

_CLOSE = object()
_STOP = object()


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    path: str
    query: dict[str, str]
    compress: Any = None  # zlib compressobj when the client asked for zlib-stream
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    session: Session | None = None
    dropped: bool = False
    identified: bool = False
    opened_at: float = field(default_factory=time.monotonic)
    last_heartbeat: float | None = None
    sent_at: list[float] = field(default_factory=list)  # when the client sent each recent frame (rate limit)


@dataclass(eq=False)
class Session:
    id: str
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    conn: Connection | None = None
    valid: bool = True
    shard: tuple[int, int] = (0, 1)


@dataclass
class GatewayRecord:
    """An IDENTIFY or RESUME the client sent (tests assert reconnection behaviour)."""

    op: str  # "IDENTIFY" | "RESUME"
    path: str
    data: dict[str, Any]
    at: float
    replayed: int = 0


class Gateway:
    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.connections: list[Connection] = []
        self.sessions: dict[str, Session] = {}
        self.by_shard: dict[int, Session] = {}  # live session of each shard
        self.records: list[GatewayRecord] = []
        self.refusals: list[str] = []  # why the gateway closed a connection or ignored a request
        self._identify_times: dict[int, float] = {}  # rate-limit bucket -> last IDENTIFY
        self.received: list[dict[str, Any]] = []  # every frame the client sent
        self.heartbeats = 0
        self.ack_delays: list[float] = []  # seconds from each heartbeat to its ACK (a network round trip)
        self.ack_heartbeats = True

    # -- sending -----------------------------------------------------------------------------
    def _send(self, conn: Connection, payload: dict[str, Any]) -> None:
        conn.queue.put_nowait(payload)

    async def _writer(self, conn: Connection) -> None:
        while True:
            item = await conn.queue.get()
            if item is _STOP:
                return
            if conn.ws.closed:
                continue
            if isinstance(item, tuple) and item[0] is _CLOSE:
                await conn.ws.close(code=item[1], message=b"stand-in closed the connection")
                continue
            text = json.dumps(item, separators=(",", ":"))
            try:
                if conn.compress is not None:
                    data = conn.compress.compress(text.encode()) + conn.compress.flush(zlib.Z_SYNC_FLUSH)
                    await conn.ws.send_bytes(data)
                else:
                    await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                continue

    @property
    def current(self) -> Session | None:
        """The session of shard 0 (the only one for an unsharded bot)."""
        return self.by_shard.get(0) or next(iter(self.by_shard.values()), None)

    def session_for(self, guild_id: int | None) -> Session | None:
        """gateway.mdx (Sharding): guild events go to shard (guild_id >> 22) % num_shards, DMs to shard 0."""
        if not self.by_shard:
            return None
        count = next(iter(self.by_shard.values())).shard[1]
        return self.by_shard.get(0 if guild_id is None else (guild_id >> 22) % count)

    def refuse(self, reason: str) -> None:
        """Remember (and log) what the stand-in refused and why."""
        self.refusals.append(reason)
        log.warning("refused: %s", reason)

    def dispatch(
        self, event: str, data: dict[str, Any], *, intent: int | None = None, guild_id: int | None = None
    ) -> int | None:
        """Send a DISPATCH to the session of the shard that owns the guild (kept for RESUME if disconnected).

        ``intent``: only send if the bot identified with that intent (as Discord filters).
        Returns the sequence number, or None when filtered out / no session exists.
        """
        if guild_id is None:
            raw = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") and "name" in data else None)
            if raw is None and event == "GUILD_DELETE":
                raw = data.get("id")
            guild_id = int(raw) if raw is not None else None
        session = self.session_for(guild_id)
        if session is None:
            return None
        if intent is not None and not session.intents & intent:
            return None
        return self._dispatch_to(session, event, data)

    def _dispatch_to(self, session: Session, event: str, data: dict[str, Any]) -> int:
        data = _for_intents(event, data, session.intents, self.standin.bot_user.id)
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(payload)
        if session.conn is not None:
            self._send(session.conn, payload)
        self.standin.changes.notify()
        return session.seq

    # -- connection handling --------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = dict(request.query)
        compress = None
        if query.get("compress") == "zlib-stream" and self.standin.compress_gateway:
            compress = zlib.compressobj()
        conn = Connection(ws=ws, transport=request.transport, path=request.path, query=query, compress=compress)
        self.connections.append(conn)
        writer = asyncio.create_task(self._writer(conn))
        watchdog = asyncio.create_task(self._watch_heartbeats(conn))
        interval = self.standin.heartbeat_interval
        self._send(conn, {"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": interval, "_trace": ["standin"]}})
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    frame = self._decode(conn, msg.data)
                    if frame is not None:
                        await self._on_frame(conn, frame)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            watchdog.cancel()
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
                if not conn.dropped and ws.close_code in (1000, 1001):
                    # A client that closes cleanly ends its session, as on Discord.
                    self._end_session(conn.session)
            # Let queued frames (e.g. a close) go out before stopping the writer.
            conn.queue.put_nowait(_STOP)
            try:
                await asyncio.wait_for(writer, 0.5)
            except TimeoutError:
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            if conn in self.connections:
                self.connections.remove(conn)
            self.standin.changes.notify()
        return ws

    def _end_session(self, session: Session) -> None:
        session.valid = False
        if self.by_shard.get(session.shard[0]) is session:
            del self.by_shard[session.shard[0]]

    def close(self, conn: Connection, code: int, reason: str) -> None:
        """Close a connection with a gateway close code; its session stays resumable unless the code ends it."""
        self.refuse(f"gateway closed {code}: {reason}")
        conn.dropped = True
        session = conn.session
        if session is not None and session.conn is conn:
            session.conn = None
            if code in (AUTHENTICATION_FAILED, INVALID_SHARD, SHARDING_REQUIRED, INVALID_INTENTS, DISALLOWED_INTENTS):
                self._end_session(session)
        conn.session = None
        self._send(conn, (_CLOSE, code))

    def _decode(self, conn: Connection, raw: str | bytes) -> dict[str, Any] | None:
        """gateway.mdx: payloads are JSON objects of at most 4096 bytes; anything else is a decode error."""
        size = len(raw.encode() if isinstance(raw, str) else raw)
        try:
            frame = json.loads(raw) if size <= MAX_PAYLOAD_BYTES else None
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            why = (
                f"payload of {size} bytes over {MAX_PAYLOAD_BYTES}" if size > MAX_PAYLOAD_BYTES else "not a JSON object"
            )
            self.close(conn, DECODE_ERROR, why)
            return None
        return frame

    async def _watch_heartbeats(self, conn: Connection) -> None:
        """gateway.mdx (Heartbeat interval): a client that misses its heartbeat is disconnected and must RESUME."""
        interval = self.standin.heartbeat_interval / 1000
        grace = interval + max(interval / 2, self.standin.heartbeat_grace)
        while not conn.ws.closed and not conn.dropped:
            last = conn.last_heartbeat if conn.last_heartbeat is not None else conn.opened_at
            wait = last + grace - time.monotonic()
            if wait <= 0:
                # The docs name no code for this; 4009 "Session timed out" is what Discord sends, and the
                # session itself stays resumable ("you will be forced to Resume").
                self.close(conn, SESSION_TIMED_OUT, f"no heartbeat for {grace:.1f}s (interval {interval:g}s)")
                return
            await asyncio.sleep(wait)

    def _ack(self, conn: Connection, heartbeat_at: float) -> None:
        self.ack_delays.append(time.monotonic() - heartbeat_at)
        self._send(conn, {"op": 11, "s": None, "t": None, "d": None})

    def request_heartbeat(self) -> None:
        """gateway.mdx (Heartbeat requests): the server asks for an immediate heartbeat with op 1."""
        session = self.current
        if session is None or session.conn is None:
            raise AssertionError("no gateway connection")
        self._send(session.conn, {"op": 1, "s": None, "t": None, "d": None})

    def _rate_limited(self, conn: Connection) -> bool:
        """gateway.mdx (Rate limiting): 120 events per connection per 60 s, then an immediate disconnect."""
        limit, window = self.standin.gateway_rate_limit
        now = time.monotonic()
        conn.sent_at = [t for t in conn.sent_at if t > now - window]
        conn.sent_at.append(now)
        return len(conn.sent_at) > limit

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        self.received.append(frame)
        op = frame.get("op")
        data = frame.get("d")
        if self._rate_limited(conn):
            self.close(conn, RATE_LIMITED, f"more than {self.standin.gateway_rate_limit[0]} payloads in a window")
        elif op == 1:
            self.heartbeats += 1
            conn.last_heartbeat = time.monotonic()
            if self.ack_heartbeats:
                # A real ACK arrives after a network round trip. Acking within microseconds on loopback makes
                # discord.py's keep-alive thread (which records its send time only after the send completes)
                # measure the ACK against the previous heartbeat: "Can't keep up, websocket is 41s behind".
                delay = self.standin.heartbeat_ack_delay
                asyncio.get_running_loop().call_later(delay, self._ack, conn, time.monotonic())
        elif op == 2:
            if conn.identified:
                self.close(conn, ALREADY_AUTHENTICATED, "a second IDENTIFY on one connection")
            else:
                self._identify(conn, data if isinstance(data, dict) else {})
        elif op == 6:
            self._resume(conn, data if isinstance(data, dict) else {})
        elif op in (3, 4, 8, 31):  # presence, voice state, request members, request soundboard sounds
            if not conn.identified:
                self.close(conn, NOT_AUTHENTICATED, f"op {op} before IDENTIFY")
            elif op == 8:
                self._request_members(conn, data if isinstance(data, dict) else {})
        else:
            self.close(conn, UNKNOWN_OPCODE, f"unknown opcode {op!r}")
        self.standin.changes.notify()

    def _identify_refusal(self, data: dict[str, Any]) -> tuple[int, str] | None:
        standin = self.standin
        if data.get("token") != standin.token:
            return AUTHENTICATION_FAILED, "wrong token"
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~ALL_INTENTS:
            return INVALID_INTENTS, f"intents {intents!r} is not a valid bitfield"
        for intent, flags in INTENT_FLAGS.items():
            if intents & intent and not standin.application_flags & flags:
                return DISALLOWED_INTENTS, f"privileged intent {intent} is not enabled for this application"
        shard = data.get("shard", [0, 1])
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(x, int) for x in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            return INVALID_SHARD, f"shard {shard!r} is not [shard_id, num_shards] with 0 <= shard_id < num_shards"
        guilds = sum(
            1
            for g in standin.world.guilds.values()
            if standin.bot_user.id in g.members and (g.id >> 22) % shard[1] == shard[0]
        )
        if guilds > standin.max_guilds_per_shard:
            return SHARDING_REQUIRED, f"shard {shard} would hold {guilds} guilds (max {standin.max_guilds_per_shard})"
        return None

    def _shard_guilds(self, shard_id: int, count: int) -> list[Any]:
        world, me = self.standin.world, self.standin.bot_user.id
        return [g for g in world.guilds.values() if me in g.members and (g.id >> 22) % count == shard_id]

    def _identify_too_soon(self, shard_id: int) -> bool:
        """gateway.mdx: IDENTIFYs are limited per bucket (shard_id % max_concurrency) to one per 5 s."""
        if not self.standin.enforce_identify_limit:
            return False
        bucket = shard_id % self.standin.max_concurrency
        now = time.monotonic()
        last = self._identify_times.get(bucket)
        if last is not None and now - last < 5.0:
            return True
        self._identify_times[bucket] = now
        return False

    def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        standin = self.standin
        refusal = self._identify_refusal(data)
        if refusal is not None:
            self.close(conn, *refusal)
            return
        shard = tuple(data.get("shard") or (0, 1))
        if self._identify_too_soon(shard[0]):
            # gateway.mdx: over max_concurrency Discord answers Invalid Session (op 9), not a close.
            self.refuse(f"IDENTIFY for shard {shard[0]} within 5 s of the last one in its bucket: op 9")
            self._send(conn, {"op": 9, "s": None, "t": None, "d": False})
            return
        old = self.by_shard.get(shard[0])
        if old is not None:
            self._end_session(old)
        session = Session(
            id=secrets.token_hex(16), intents=int(data.get("intents") or 0), identify=data, shard=(shard[0], shard[1])
        )
        self.sessions[session.id] = session
        session.conn = conn
        conn.session = session
        conn.identified = True
        self.by_shard[shard[0]] = session
        self.records.append(GatewayRecord("IDENTIFY", conn.path, data, time.perf_counter()))
        guilds = self._shard_guilds(shard[0], shard[1])
        ready: dict[str, Any] = {}
        if "shard" in data:
            ready["shard"] = [shard[0], shard[1]]
        self._dispatch_to(
            session,
            "READY",
            {
                **ready,
                "v": 10,
                "user": standin.bot_user_dict(),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": standin.resume_gateway_url,
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "guild_join_requests": [],
                "application": {"id": str(standin.application_id), "flags": standin.application_flags},
                "_trace": ["standin"],
            },
        )
        for guild in guilds:
            self._dispatch_to(session, "GUILD_CREATE", guild.to_gateway_dict())

    def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.valid or data.get("token") != self.standin.token:
            self._send(conn, {"op": 9, "s": None, "t": None, "d": False})
            return
        seq = data.get("seq")
        if seq is not None and (not isinstance(seq, int) or not 0 <= seq <= session.seq):
            # opcodes-and-status-codes.mdx: 4007 "Invalid seq" when resuming with a sequence never sent.
            self.close(conn, INVALID_SEQ, f"RESUME with seq {seq!r}; the session is at {session.seq}")
            return
        if session.conn is not None and session.conn is not conn:
            session.conn.session = None
        session.conn = conn
        conn.session = session
        conn.identified = True
        self.by_shard[session.shard[0]] = session
        since = int(data.get("seq") or 0)
        missed = [p for p in session.log if p["s"] > since]
        for payload in missed:
            self._send(conn, payload)
        self.records.append(GatewayRecord("RESUME", conn.path, data, time.perf_counter(), replayed=len(missed)))
        self._dispatch_to(session, "RESUMED", {"_trace": ["standin"]})

    def _request_members(self, conn: Connection, data: dict[str, Any]) -> None:
        guild = self.standin.world.guilds.get(int(data.get("guild_id") or 0))
        if guild is None or conn.session is None:
            return
        if not data.get("user_ids") and not data.get("query") and not conn.session.intents & GUILD_MEMBERS:
            # gateway-events.mdx: GUILD_MEMBERS is required to request the entire member list.
            self.refuse("member list requested without the GUILD_MEMBERS intent: no chunk sent")
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(x) for x in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif data.get("query"):
            query = str(data["query"]).lower()
            members = [m for m in members if m.user.username.lower().startswith(query)]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_dict() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._dispatch_to(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- faults ------------------------------------------------------------------------------
    def drop(self, *, code: int = 4000, abrupt: bool = False) -> None:
        """Disconnect the bot; it should RESUME on the resume_gateway_url."""
        session = self.current
        if session is None or session.conn is None:
            raise AssertionError("no gateway connection to drop")
        conn = session.conn
        conn.dropped = True
        session.conn = None
        conn.session = None
        if abrupt and conn.transport is not None:
            conn.transport.abort()
        else:
            self._send(conn, (_CLOSE, code))

    def send_op(self, op: int, data: Any = None) -> None:
        """Send a raw non-dispatch opcode (7 RECONNECT, 9 INVALID_SESSION) to the live connection."""
        session = self.current
        if session is None or session.conn is None:
            raise AssertionError("no gateway connection")
        conn = session.conn
        if op == 9 and not data:
            self._end_session(session)
        if op in (7, 9):
            conn.dropped = True
            session.conn = None
        self._send(conn, {"op": op, "s": None, "t": None, "d": data})

    async def close_all(self) -> None:
        for conn in list(self.connections):
            conn.dropped = True
            if conn.transport is not None and not conn.ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(code=1001), 1.0)


def _for_intents(event: str, data: dict[str, Any], intents: int, bot_id: int) -> dict[str, Any]:
    """gateway.mdx (Gateway intents): without GUILD_MEMBERS a GUILD_CREATE lists only the bot's own member;
    without GUILD_PRESENCES it carries no presences."""
    if event != "GUILD_CREATE":
        return data
    data = dict(data)
    if not intents & GUILD_MEMBERS:
        data["members"] = [m for m in data.get("members", []) if m.get("user", {}).get("id") == str(bot_id)]
    if not intents & GUILD_PRESENCES:
        data["presences"] = []
    return data
