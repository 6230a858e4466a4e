"""What an action handler gets: the action's headers and a way to answer on its session.

Header names compare case-insensitively, as astman_get_header does; replies
keep manager.c's order: Response, ActionID, EventList, Message, then fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.codec import Action, encode_message
from pbx.sim.events import Headers

if TYPE_CHECKING:
    from pbx.sim.core import PbxCore
    from pbx.sim.originate import Originator
    from pbx.sim.session import AmiSession

Handler = Callable[["ActionContext"], Awaitable[None] | None]
TRUE_WORDS = frozenset({"yes", "true", "y", "t", "1", "on"})
FALSE_WORDS = frozenset({"no", "false", "n", "f", "0", "off"})


def is_true(text: str) -> bool:
    """Asterisk's ast_true."""
    return text.strip().lower() in TRUE_WORDS


@dataclass
class ActionContext:
    """One action being handled: its headers, and a way to answer on its session."""

    action: Action
    session: AmiSession
    core: PbxCore
    originator: Originator
    muted: bool = False
    late_s: float = 0.0
    """The Response is written this long after the action (SimulatedPbx.answer_late)."""

    def header(self, key: str) -> str:
        """First value of `key`, compared case-insensitively (astman_get_header)."""
        folded = key.lower()
        return next((value for name, value in self.action.headers if name.lower() == folded), "")

    def headers(self, key: str) -> list[str]:
        folded = key.lower()
        return [value for name, value in self.action.headers if name.lower() == folded]

    @property
    def action_id(self) -> str:
        return self.header("ActionID")

    def send(self, headers: Headers) -> None:
        if not self.muted:
            self.session.write(encode_message(headers))

    def respond(
        self, status: str, message: str | None, *fields: tuple[str, str], event_list: str = ""
    ) -> None:
        headers: Headers = [("Response", status)]
        if self.action_id:
            headers.append(("ActionID", self.action_id))
        if event_list:
            headers.append(("EventList", event_list))
        if message is not None:
            headers.append(("Message", message))
        headers.extend(fields)
        if self.late_s > 0 and not self.muted and not event_list:
            data = encode_message(headers)
            asyncio.get_running_loop().call_later(self.late_s, self.session.write, data)
            return
        self.send(headers)

    def ack(self, message: str) -> None:
        self.respond("Success", message)

    def error(self, message: str) -> None:
        self.respond("Error", message)
