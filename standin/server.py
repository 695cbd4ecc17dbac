"""The stand-in server: one aiohttp app on loopback serving Discord's REST API and gateway.

Only ``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` need to point
here (see harness.run_bot); everything else is discord.py's unmodified code.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from .gateway import Gateway, GatewayRecord
from .inject import InjectAPI
from .limits import form_error
from .messages import HTTPError, MessageStore
from .ratelimits import RateLimiter
from .records import Changes, Fault, Hold, InteractionResult, RecordedRequest, UploadedFile
from .rest import Rest
from .rules import merge, request_rules

if TYPE_CHECKING:
    from .spec import Spec
from .state import User, World
from .world import WorldAPI

log = logging.getLogger("standin")
API_VERSION = 10
INTERESTING_HEADERS = ("Authorization", "Content-Type", "User-Agent", "X-Audit-Log-Reason")
NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/")


def json_response(status: int, body: Any) -> web.Response:
    """Content-Type must be exactly application/json: discord.py only parses JSON then."""
    if body is None:
        return web.Response(status=status)
    return web.Response(status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def discord_spec() -> Spec | None:
    """Discord's OpenAPI spec, or None where it is not available (an installed copy running the offline
    console: no ``../shared`` beside it, no test extras). The test suite refuses to run without it
    (tests/conftest.py), so tests are always judged by it."""
    try:
        from . import spec
    except ImportError as exc:  # jsonschema / referencing come with the [test] extras
        log.info("not validating against Discord's spec: %s", exc)
        return None
    try:
        return spec.load_spec()
    except spec.SpecMissingError as exc:
        log.info("not validating against Discord's spec: %s", exc)
        return None


TEARDOWN_SECONDS = 30.0


async def finish_or_explain(step: Awaitable[None], what: str, seconds: float = TEARDOWN_SECONDS) -> None:
    """Await a teardown step; if it hangs, fail with every running task's stack instead of hanging the run."""
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=8, file=stacks)
        message = f"{what} did not finish within {seconds:.0f} s; running tasks:\n{stacks.getvalue()}"
        raise AssertionError(message) from None


class StandIn(WorldAPI, InjectAPI):
    """A local Discord. Use ``async with StandIn() as discord_:``."""

    def __init__(
        self,
        *,
        bot_name: str = "Immunobot",
        token: str = "standin.bot.token",  # noqa: S107 - not a secret, the stand-in's own
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval: int = 41250,
        response_timeout: float = 5.0,
        enforce_deadline: bool = True,
        compress_gateway: bool = True,
        enforce_command_permissions: bool = True,
        validate_responses: bool = True,
        heartbeat_grace: float = 2.0,
        heartbeat_ack_delay: float = 0.1,
        gateway_rate_limit: tuple[int, float] = (120, 60.0),
        shards: int = 1,
        max_concurrency: int = 1,
        max_guilds_per_shard: int = 2500,
        enforce_identify_limit: bool = False,
        rate_limits: RateLimiter | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.response_timeout = response_timeout
        self.enforce_deadline = enforce_deadline
        self._clock_offset = 0.0  # advance() moves the stand-in's clock (token expiry) without waiting
        self.compress_gateway = compress_gateway
        self.enforce_command_permissions = enforce_command_permissions
        self.validate_responses = validate_responses
        self.heartbeat_grace = heartbeat_grace  # seconds past the interval before a silent client is closed
        self.heartbeat_ack_delay = heartbeat_ack_delay  # a network round trip, as on Discord
        self.gateway_rate_limit = gateway_rate_limit
        self.shards = shards  # what GET /gateway/bot recommends
        self.max_concurrency = max_concurrency
        self.max_guilds_per_shard = max_guilds_per_shard
        # Off by default: test bots skip discord.py's 5 s pause between IDENTIFYs to keep the suite fast.
        self.enforce_identify_limit = enforce_identify_limit
        self.rate_limits = rate_limits or RateLimiter()
        self.world = World()
        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.application_flags = (1 << 19) | (1 << 23)  # gateway message content (limited) + app commands badge
        self.app_owner = self.add_user("developer")
        self.changes = Changes()
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.interactions: list[InteractionResult] = []
        self._by_token: dict[str, InteractionResult] = {}
        self._modals: list[tuple[dict[str, Any], InteractionResult]] = []
        self.gateway = Gateway(self)
        self.rest = Rest(self)
        self.messages = MessageStore(self)
        self.spec: Spec | None = discord_spec()  # parsed and compiled once per process
        self.validated_requests = 0
        self.validated_responses = 0
        self.response_violations: list[str] = []
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> StandIn:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway", self.gateway.handle)
        app.router.add_route("GET", "/gateway/resume", self.gateway.handle)
        app.router.add_route("GET", "/attachments/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_route("*", f"/api/v{API_VERSION}/{{tail:.*}}", self._handle_api)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        await finish_or_explain(self.gateway.close_all(), "closing the stand-in's gateway sessions")
        if self._runner is not None:
            await finish_or_explain(self._runner.cleanup(), "stopping the stand-in's HTTP server")
            self._runner = None

    async def __aenter__(self) -> StandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway/resume"

    # -- identity payloads ---------------------------------------------------------------------
    def bot_user_dict(self) -> dict[str, Any]:
        data = self.bot_user.to_dict()
        data.update(verified=True, mfa_enabled=False, flags=0, locale="en-US", email=None)
        return data

    def app_info_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "owner": self.app_owner.to_dict(),
            "team": None,
            "bot": self.bot_user.to_dict(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
            "integration_types_config": {"0": {}},
            "flags_new": str(self.application_flags),
            "role_connections_verification_url": None,
            "approximate_guild_count": sum(self.bot_user.id in g.members for g in self.world.guilds.values()),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
        }

    # -- HTTP plumbing -------------------------------------------------------------------------
    async def _parse_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        files: list[UploadedFile] = []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.filename is not None:
                    content = bytes(await part.read(decode=False))
                    ctype = part.headers.get("Content-Type")
                    files.append(UploadedFile(part.name or "", part.filename, content, ctype))
            return body, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode(errors="replace"), files

    def _take_fault(self, rec: RecordedRequest) -> Fault | None:
        for fault in self.faults:
            if not fault.exhausted and rec.matches(fault.method, fault.path):
                fault.hits += 1
                return fault
        return None

    def now(self) -> float:
        """The stand-in's clock (seconds): interaction deadlines and token lifetimes are measured on it."""
        return time.perf_counter() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock forward, e.g. past an interaction token's 15 minutes."""
        self._clock_offset += seconds

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        received_at = self.now()  # before reading the body: an upload's transfer time is not the bot's delay
        path = "/" + request.match_info["tail"]
        body, files = await self._parse_body(request)
        rec = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body,
            files=files,
            headers={h: request.headers[h] for h in INTERESTING_HEADERS if h in request.headers},
            at=received_at,
        )
        self.requests.append(rec)
        headers: dict[str, str] = {}
        matched = self.rest.match(request.method, path)
        rec.route = matched[0] if matched else None
        try:
            hold = next((h for h in self.holds if not h.taken and rec.matches(h.method, h.path)), None)
            if hold is not None:
                self.changes.notify()
                if not await hold.wait(rec):
                    rec.fault = True
                    raise HTTPError(500, {"message": "500: Internal Server Error", "code": 0})
            fault = self._take_fault(rec)
            if fault is not None:
                rec.fault = True
                status, payload = fault.status, fault.response_body()
                if fault.status == 429:
                    headers["Retry-After"] = str(fault.retry_after)
                    headers["X-RateLimit-Scope"] = "global" if fault.is_global else "user"
                    if fault.is_global:
                        headers["X-RateLimit-Global"] = "true"
                    if fault.via:
                        headers["Via"] = "1.1 google"
            elif matched is None:
                status, payload = 404, {"message": "404: Not Found", "code": 0}
            elif not path.startswith(NO_AUTH_PREFIXES) and request.headers.get("Authorization") != f"Bot {self.token}":
                status, payload = 401, {"message": "401: Unauthorized", "code": 0}
            else:
                verdict = self.rate_limits.check(request.method, matched[0], path)
                headers.update(verdict.headers)
                if verdict.retry_after is not None:
                    # rate-limits.mdx: 429 with retry_after and global; discord.py retries only with a Via header.
                    # A bucket's 429 fails the e2e test (discord.py paces buckets from the headers); a global one
                    # is recorded: discord.py has no header to pace it by and retries after retry_after.
                    rec.rate_limited = verdict.scope != "global"
                    rec.global_limited = verdict.scope == "global"
                    headers["Via"] = "1.1 google"
                    log.warning("refused with 429: %s", self.rate_limits.limited[-1])
                    is_global = verdict.scope == "global"
                    msg = "You are being rate limited."
                    raise HTTPError(429, {"message": msg, "retry_after": verdict.retry_after, "global": is_global})
                self._validate_request(rec)
                status, payload = await matched[1](rec, matched[2])
        except HTTPError as exc:
            status, payload = exc.status, exc.body
        rec.status, rec.response = status, payload
        rec.invalid = status == 400 and isinstance(payload, dict) and payload.get("code") == 50035
        if status >= 400 and not rec.fault:
            log.info("answered %s to %s %s: %s", status, request.method, path, payload)
        if self.validate_responses:
            self._validate_response(rec)
        if status >= 400 and matched is not None and "token" in matched[2]:
            result = self._by_token.get(matched[2]["token"])
            if result is not None:
                result.rejections.append(rec)
        self.changes.notify()
        response = json_response(status, payload)
        response.headers.update(headers)
        return response

    def _validate_request(self, rec: RecordedRequest) -> None:
        """Discord's schema (spec) and documented cross-field rules; an invalid request is answered 400."""
        op = None if self.spec is None else self.spec.operation(rec.method, rec.path)
        if op is None or self.spec is None:
            return
        self.validated_requests += 1
        errors = merge(self.spec.request_errors(op, rec.json, rec.query), request_rules(op.operation_id, rec.json))
        if errors:
            rec.invalid = True
            log.warning("refused with 400 (invalid form body): %s %s: %s", rec.method, rec.path, errors)
            raise HTTPError(400, form_error(errors))

    def _validate_response(self, rec: RecordedRequest) -> None:
        """Every body the stand-in answers must be one Discord's spec documents for that status."""
        op = None if self.spec is None else self.spec.operation(rec.method, rec.path)
        if op is None or self.spec is None or rec.fault:
            return
        self.validated_responses += 1
        self.response_violations.extend(self.spec.response_errors(op, rec.status, rec.response))

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        rec = RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            None,
            [],
            {},
            time.perf_counter(),
            status=404,
            response={"message": "404: Not Found", "code": 0},
        )
        self.requests.append(rec)
        self.changes.notify()
        return json_response(404, rec.response)

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        try:
            attachment = self.world.attachments.get(int(request.match_info["attachment_id"]))
        except ValueError:
            attachment = None
        if attachment is None:
            return json_response(404, {"message": "404: Not Found", "code": 0})
        return web.Response(body=attachment.content, content_type=attachment.content_type or "application/octet-stream")

    # -- records -------------------------------------------------------------------------------
    def find_requests(
        self, method: str | None = None, path: str | None = None, *, status: int | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests matching method / fnmatch path ("re:" for regex) / status, in order."""
        return [r for r in self.requests if r.matches(method, path, status)]

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        """Requests to endpoints the stand-in does not implement (answered 404)."""
        return [r for r in self.requests if r.route is None and not r.fault]

    @property
    def invalid_requests(self) -> list[RecordedRequest]:
        """Requests Discord would refuse as an invalid form body (400, code 50035): spec, rules, limits."""
        return [r for r in self.requests if r.invalid]

    def assert_discord_accepted(self, *, requests: bool = True) -> None:
        """Fail unless every request was one Discord accepts (no invalid form body, no 429 from the stand-in's
        rate limits) and every answer matched the spec's response schema. E2E fixtures call it on teardown;
        ``requests=False`` checks only the answers (for tests that send bad requests on purpose)."""
        problems = list(self.response_violations)
        if requests:
            problems += [f"{r.method} {r.path}: {r.response.get('errors')}" for r in self.invalid_requests]
            problems += [f"{r.method} {r.path}: 429 (stand-in rate limit)" for r in self.requests if r.rate_limited]
            problems += [f"{r.method} {r.path}: answered after the 3 s deadline" for r in self.requests if r.late]
        if problems:
            raise AssertionError("Discord would not have accepted this:\n" + "\n".join(problems[:20]))

    @property
    def rejected_requests(self) -> list[RecordedRequest]:
        """Every request answered with a 4xx (limits, permissions, unknown ids...)."""
        return [r for r in self.requests if 400 <= r.status < 500]

    async def wait_for_request(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        status: int | None = None,
        within: float | None = None,
        after: int = 0,
    ) -> RecordedRequest:
        """The first matching request at index >= ``after`` in ``requests``."""
        within = self.response_timeout if within is None else within

        def find() -> RecordedRequest | None:
            return next((r for r in self.requests[after:] if r.status and r.matches(method, path, status)), None)

        return await self.changes.wait_for(find, within, f"a request {method or '*'} {path or '*'} status {status}")

    @property
    def sync_requests(self) -> list[RecordedRequest]:
        """Command syncs (bulk PUT of global or guild commands)."""
        return [r for r in self.requests if r.method == "PUT" and r.route and r.route.endswith("/commands")]

    @property
    def sync_count(self) -> int:
        return len(self.sync_requests)

    def commands(self, guild: Any = None) -> list[dict[str, Any]]:
        """Synced commands, global (guild=None) or for a guild."""
        return self.world.commands.get(None if guild is None else guild.id, [])

    def register_commands(self, commands: list[dict[str, Any]], guild: Any = None) -> list[dict[str, Any]]:
        """Pretend these commands were synced earlier (assigns ids), without a sync request."""
        scope = None if guild is None else guild.id
        stored = [self.rest._stored_command(c, scope, None) for c in commands]
        self.world.commands[scope] = stored
        return stored

    # -- faults --------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        body: Any = None,
        via: bool = True,
    ) -> Fault:
        """Answer the next ``times`` requests matching (method, path pattern) with ``status``.

        429s carry ``Via`` and a JSON ``retry_after`` so discord.py retries them; ``via=False``
        makes it look like a Cloudflare ban instead.
        """
        fault = Fault(method.upper(), path, status, times, retry_after, is_global, body, via)
        self.faults.append(fault)
        return fault

    def hold_next(self, method: str, path: str) -> Hold:
        """Keep the next request matching (method, path pattern) waiting until the test releases or drops it."""
        hold = Hold(method.upper(), path)
        self.holds.append(hold)
        return hold

    # -- gateway -------------------------------------------------------------------------------
    def dispatch(self, event: str, data: dict[str, Any]) -> int | None:
        """Send any DISPATCH event to the bot (returns its sequence number)."""
        return self.gateway.dispatch(event, data)

    def drop_gateway(self, *, code: int = 4000, abrupt: bool = False) -> None:
        """Close the bot's websocket (resumable code, or abrupt TCP abort)."""
        self.gateway.drop(code=code, abrupt=abrupt)

    def request_reconnect(self) -> None:
        """Op 7 RECONNECT: the bot should reconnect and RESUME."""
        self.gateway.send_op(7)

    def invalidate_session(self, *, resumable: bool = False) -> None:
        """Op 9 INVALID_SESSION (not resumable: the bot re-IDENTIFYs after before_identify_hook)."""
        self.gateway.send_op(9, resumable)

    @property
    def connected(self) -> bool:
        session = self.gateway.current
        return session is not None and session.conn is not None

    @property
    def identifies(self) -> list[GatewayRecord]:
        return [r for r in self.gateway.records if r.op == "IDENTIFY"]

    @property
    def resumes(self) -> list[GatewayRecord]:
        return [r for r in self.gateway.records if r.op == "RESUME"]

    async def wait_for_resume(self, n: int = 1, within: float | None = None) -> GatewayRecord:
        """The n-th RESUME (1-based), once the replay was queued."""
        within = self.response_timeout if within is None else within
        await self.changes.wait_for(lambda: len(self.resumes) >= n and self.connected, within, f"RESUME #{n}")
        return self.resumes[n - 1]

    async def wait_for_identify(self, n: int = 1, within: float | None = None) -> GatewayRecord:
        within = self.response_timeout if within is None else within
        await self.changes.wait_for(lambda: len(self.identifies) >= n, within, f"IDENTIFY #{n}")
        return self.identifies[n - 1]

    # -- interactions --------------------------------------------------------------------------
    def register_interaction(self, result: InteractionResult) -> None:
        self.interactions.append(result)
        self._by_token[result.token] = result

    def interaction_by_token(self, token: str) -> InteractionResult | None:
        return self._by_token.get(token)

    def open_modal(self, data: dict[str, Any], opener: InteractionResult) -> None:
        self._modals.append((data, opener))

    def find_modal(self, custom_id: str, user: Any) -> tuple[dict[str, Any], InteractionResult] | None:
        user_id = user.id
        for data, opener in reversed(self._modals):
            if data.get("custom_id") == custom_id and opener.user.id == user_id:
                return data, opener
        return None

    def opened_modal_ids(self) -> list[str]:
        return [str(d.get("custom_id")) for d, _ in self._modals]

    def channel_messages(self, channel: Any) -> list[Any]:
        """Visible messages of a channel (no ephemerals, no deleted), oldest first."""
        return self.world.channel_messages(channel.id)

    @property
    def late_interactions(self) -> list[InteractionResult]:
        """Interactions answered after Discord's 3 s deadline (or not at all)."""
        return [r for r in self.interactions if r.late]

    def user(self, username: str) -> User:
        for user in self.world.users.values():
            if user.username == username:
                return user
        raise KeyError(username)
