"""The HTTP API: app factory, auth, the common error format, health and metrics endpoints."""

from switchboard.api.app import create_app
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.errors import AuthenticationError, ErrorBody, NotReadyError, PermissionDeniedError
from switchboard.api.server import HttpBindError, HttpServer, serve_http, stop_http
from switchboard.api.state import AppState, get_state
from switchboard.api.tokens import ROLES, Principal, Role, TokenStore, hash_token, new_token

__all__ = [
    "AUTH_RESPONSES",
    "ROLES",
    "AppState",
    "AuthenticationError",
    "ErrorBody",
    "HttpBindError",
    "HttpServer",
    "NotReadyError",
    "PermissionDeniedError",
    "Principal",
    "Role",
    "TokenStore",
    "create_app",
    "get_state",
    "hash_token",
    "new_token",
    "require_role",
    "serve_http",
    "stop_http",
]
