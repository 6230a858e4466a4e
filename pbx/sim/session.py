"""One AMI connection to the simulated Asterisk: banner, framing, one action at a time.

Rules kept from manager.c:
- the server greets with `Asterisk Call Manager/<version>` and nothing else;
- a session handles its actions one after another (a synchronous Originate
  blocks the next action of that session, not other sessions);
- events raised while an action runs reach this session only after the
  action's response (Asterisk writes queued events after the action; the
  recordings show it), other sessions get them at once;
- header names are case-insensitive, and `Action` may be anywhere in a message;
- nothing a client sends ends the session except Logoff or a failed Login:
  a handler that raises gets `Response: Error` and the session goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pbx.codec import Action, AmiDecoder, AmiItem, Banner, Malformed, encode_banner, encode_message
from pbx.sim.actions import dispatch
from pbx.sim.context import ActionContext
from pbx.sim.events import Headers

if TYPE_CHECKING:
    from pbx.sim.core import PbxCore
    from pbx.sim.originate import Originator

logger = logging.getLogger(__name__)

FailMode = Literal["silence", "close", "garbage", "vanish"]
GARBAGE = b"\x00\xff\xfeNot: an\r\nAMI \x01message at all\r\n\r\n"
MAX_WRITE_BUFFER = 16 * 1024 * 1024
"""A client that stops reading is dropped (Asterisk: writetimeout) instead of growing memory."""


@dataclass(frozen=True)
class Failure:
    """What to do instead of answering the next action of one name."""

    mode: FailMode
    execute: bool = False
    """True: the action still takes effect (the call is placed), only the answer is lost."""
    header: str = ""
    """`vanish`: the header naming the channel whose far end hangs up just before the action runs."""


class SessionHost(Protocol):
    """What a session needs from the simulator that owns it."""

    @property
    def core(self) -> PbxCore: ...

    @property
    def originator(self) -> Originator: ...

    def record_action(self, action: Action) -> None: ...

    def take_failure(self, name: str) -> Failure | None: ...

    def answer_delay(self, name: str) -> float: ...


def recover_action(item: Malformed) -> Action | None:
    """Read a message the strict codec refused (stray lines, lower-case keys) as Asterisk would.

    Asterisk ignores lines that are not headers and compares names case-insensitively.
    """
    for line in item.raw.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "action":
            return Action(item.raw, value.strip())
    return None


def _action_id(raw: str) -> str:
    for line in raw.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "actionid":
            return value.strip()
    return ""


class AmiSession:
    def __init__(self, host: SessionHost, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.host = host
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.username = ""
        self.challenge = ""
        self.event_mask: frozenset[str] | None = None
        """Event categories wanted; None: all of them."""
        self.read: frozenset[str] | None = None
        """Event categories the login may read (manager.conf `read=`); None: all of them."""
        self.closed = False
        self.stalled = False
        self._held: list[bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    # -- output --------------------------------------------------------------
    def wants(self, categories: frozenset[str]) -> bool:
        if self.read is not None and not self.read & categories:  # "all" in Privilege grants nothing
            return False
        return self.event_mask is None or bool(self.event_mask & categories)

    def deliver(self, data: bytes, categories: frozenset[str]) -> None:
        """An event for everybody: sent now, or after the running action's response."""
        if not self.authenticated or self.closed or not self.wants(categories):
            return
        if self._held is not None:
            self._held.append(data)
        else:
            self.write(data)

    def write(self, data: bytes) -> None:
        if self.closed or self.stalled or self.writer.is_closing():
            return
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            logger.warning("AMI client %s stopped reading; dropping it", self.peer)
            self.close()

    @property
    def peer(self) -> str:
        return str(self.writer.get_extra_info("peername"))

    def stall(self) -> None:
        """A hung Asterisk (or a dead route): nothing read, nothing sent, the socket stays open."""
        self.stalled = True
        transport = self.writer.transport
        if isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()

    def close(self) -> None:
        """Close the socket; an action still waiting (a sync Originate) is abandoned."""
        if self.closed:
            return
        self.closed = True
        self.writer.close()
        task = self._task
        if self._busy and task is not None and task is not asyncio.current_task():
            task.cancel()

    # -- input ---------------------------------------------------------------
    async def run(self, banner_version: str) -> None:
        self._task = asyncio.current_task()
        self.write(encode_banner(banner_version))
        decoder = AmiDecoder(expect_banner=False)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for item in decoder.feed(data):
                    if self.closed:
                        break
                    self._busy = True
                    await self._handle(item)
                    self._busy = False
        except (ConnectionError, OSError) as exc:
            logger.info("AMI client %s went away: %s", self.peer, exc)
        except asyncio.CancelledError:
            if not self.closed:
                raise
        finally:
            self.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()

    async def _handle(self, item: AmiItem) -> None:
        if isinstance(item, Action):
            await self.process(item)
            return
        if isinstance(item, Malformed):
            recovered = recover_action(item)
            if recovered is not None:
                await self.process(recovered)
                return
            logger.info("AMI client %s sent a message without Action: %s", self.peer, item.reason)
            raw_id = _action_id(item.raw)
        else:
            raw_id = "" if isinstance(item, Banner) else item.action_id or ""
        headers: Headers = [("Response", "Error")]
        if raw_id:
            headers.append(("ActionID", raw_id))
        headers.append(("Message", "Missing action in request"))
        self.write(encode_message(headers))

    async def process(self, action: Action) -> None:
        self.host.record_action(action)
        failure = self.host.take_failure(action.name)
        if failure is not None and failure.mode == "vanish":
            # The phone hangs up while the action is on its way: its events go out first, then the
            # action meets the channel gone and is answered as Asterisk does then.
            self.host.core.far_end_hangs_up(action.get(failure.header) or "")
            failure = None
        if failure is None or failure.execute:
            muted = failure is not None
            context = ActionContext(
                action, self, self.host.core, self.host.originator, muted=muted,
                late_s=self.host.answer_delay(action.name),
            )  # fmt: skip
            self._held = []
            try:
                await dispatch(context)
            except Exception:  # one odd action never kills the server
                logger.exception("simulated PBX failed on action %s", action.name)
                context.error("Internal error while handling the action")
            finally:
                held, self._held = self._held, None
                for data in held:
                    self.write(data)
        if failure is not None:
            self._fail(failure)

    def _fail(self, failure: Failure) -> None:
        if failure.mode == "close":
            self.close()
        elif failure.mode == "garbage":
            self.write(GARBAGE)
