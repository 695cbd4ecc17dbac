"""The gateway websocket: HELLO/IDENTIFY/READY, heartbeats, dispatches and RESUME.

Dispatching is synchronous (events are queued per connection and written in order by
one writer task), so world-building calls in tests need no ``await``. Every dispatch is
kept in the session log; a RESUME replays what the client missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import StandIn

# Gateway intents the stand-in honours when it dispatches on its own.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MODERATION = 1 << 2
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15

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


@dataclass(eq=False)
class Session:
    id: str
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    conn: Connection | None = None
    valid: bool = True


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
        self.current: Session | None = None
        self.records: list[GatewayRecord] = []
        self.received: list[dict[str, Any]] = []  # every frame the client sent
        self.heartbeats = 0
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

    def dispatch(self, event: str, data: dict[str, Any], *, intent: int | None = None) -> int | None:
        """Send a DISPATCH to the current session (kept for RESUME if it is disconnected).

        ``intent``: only send if the bot identified with that intent (as Discord filters).
        Returns the sequence number, or None when filtered out / no session exists.
        """
        session = self.current
        if session is None:
            return None
        if intent is not None and not session.intents & intent:
            return None
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
        interval = self.standin.heartbeat_interval
        self._send(conn, {"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": interval, "_trace": ["standin"]}})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
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
        if self.current is session:
            self.current = None

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        self.received.append(frame)
        op = frame.get("op")
        data = frame.get("d")
        if op == 1:
            self.heartbeats += 1
            if self.ack_heartbeats:
                self._send(conn, {"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            self._identify(conn, data or {})
        elif op == 6:
            self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        self.standin.changes.notify()

    def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        standin = self.standin
        if data.get("token") != standin.token:
            self._send(conn, (_CLOSE, 4004))
            return
        if self.current is not None:
            self._end_session(self.current)
        session = Session(id=secrets.token_hex(16), intents=int(data.get("intents") or 0), identify=data)
        self.sessions[session.id] = session
        session.conn = conn
        conn.session = session
        self.current = session
        self.records.append(GatewayRecord("IDENTIFY", conn.path, data, time.perf_counter()))
        guilds = [g for g in standin.world.guilds.values() if standin.bot_user.id in g.members]
        self.dispatch(
            "READY",
            {
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
            self.dispatch("GUILD_CREATE", guild.to_gateway_dict())

    def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.valid or data.get("token") != self.standin.token:
            self._send(conn, {"op": 9, "s": None, "t": None, "d": False})
            return
        if session.conn is not None and session.conn is not conn:
            session.conn.session = None
        session.conn = conn
        conn.session = session
        self.current = session
        since = int(data.get("seq") or 0)
        missed = [p for p in session.log if p["s"] > since]
        for payload in missed:
            self._send(conn, payload)
        self.records.append(GatewayRecord("RESUME", conn.path, data, time.perf_counter(), replayed=len(missed)))
        self.dispatch("RESUMED", {"_trace": ["standin"]})

    def _request_members(self, conn: Connection, data: dict[str, Any]) -> None:
        guild = self.standin.world.guilds.get(int(data.get("guild_id") or 0))
        if guild is None or conn.session is None:
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
        self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

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
