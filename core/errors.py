"""The one error tree of Switchboard.

It lives in the lowest package so that every layer (core <- pbx <- routing <- dialer <-
switchboard) can raise and catch the same types. Each error has a stable id slug
(used in logs and in the HTTP error body) and a dict of details.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SwitchboardError(Exception):
    """Base of every error Switchboard raises on purpose."""

    error_id: ClassVar[str] = "switchboard-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": self.message, "details": self.details}


class ConfigError(SwitchboardError):
    """A settings or rules file is invalid; details name the file, line, column and path."""

    error_id = "config-invalid"


class AmiError(SwitchboardError):
    """Anything that went wrong talking AMI."""

    error_id = "ami-error"


class AmiEncodeError(AmiError):
    """An action could not be encoded (e.g. a value with CR/LF would inject headers)."""

    error_id = "ami-encode-invalid"


class AmiLoginError(AmiError):
    """Asterisk refused the login; retrying will not help until the admin fixes it."""

    error_id = "ami-login-failed"


class AmiConnectionError(AmiError):
    """The TCP connection to Asterisk is down or was lost."""

    error_id = "ami-connection-lost"


class AmiTimeoutError(AmiError):
    """An action got no answer within its timeout."""

    error_id = "ami-timeout"


class AmiFencedError(AmiError):
    """An action on calls was not sent: this engine does not own them now (its lease lapsed or
    another engine took it, core/lease.py). Nothing reached Asterisk."""

    error_id = "ami-fenced"


class AmiActionError(AmiError):
    """Asterisk answered an action with Response: Error."""

    error_id = "ami-action-failed"


class StoreUnavailableError(SwitchboardError):
    """Redis (or another store) cannot be consulted."""

    error_id = "store-unavailable"


class NotFoundError(SwitchboardError):
    error_id = "not-found"


class ValidationFailedError(SwitchboardError):
    """Input data (CSV row, number, HTTP body) failed validation; details say what and where."""

    error_id = "validation-failed"


class NotOwnerError(SwitchboardError):
    """This engine does not own the role (the ACD, the pacing) another engine sharing Redis owns,
    or it lost it: the write was refused by its fencing token. Details name the role."""

    error_id = "not-owner"


class DuplicateEngineError(SwitchboardError):
    """Another live process runs under this engine id (core/engine_run.py): two engines must not
    share one. Details name the id and the other process (host, pid, run)."""

    error_id = "engine-id-in-use"
