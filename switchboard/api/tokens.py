"""API tokens: who may call the HTTP API and in which role.

The tokens file is YAML, a list (or a mapping with a `tokens:` list) of
entries `{name, role, token_sha256}`; `token: <plain text>` is accepted for
tests and labs, but a file with only hashes can be shown to anybody.
`switchboard new-token` prints a fresh token and its entry.

Roles: advisor (agents), supervisor, admin, crm (the CRM's integration).
A presented token is looked up by its SHA-256, so the plain token is never
kept in memory after start. Names must be unique: they appear in audit logs.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, model_validator

from core.config.yaml_file import (
    ConfigProblem,
    YamlDocument,
    config_error,
    load_yaml,
    problems_from_validation,
)

Role = Literal["advisor", "supervisor", "admin", "crm"]
ROLES: tuple[Role, ...] = get_args(Role)
log = logging.getLogger(__name__)
MIN_TOKEN_LENGTH = 16
# SHA-256 of the tokens config/api-tokens.example.yaml once printed in its comments
# ("example-advisor-token-0001", ...): known to everybody, so refused wherever they appear.
PUBLISHED_EXAMPLE_DIGESTS = frozenset({
    "21163a60ef156cbe3d21af30c33976807ec72009758cfd0ce25e25ef62c9aeda",
    "c49d9b11b9f9114fb57b0620bade23d62c5908aca68d27a4f9acff50e9dc2633",
    "b008fc0581320a7104d4d7f6da26a07d1b1000b82252c614cff132d18fb7411f",
    "78ecfe4f016a24b164d60b38404a94c679687acb04aeb204519bdd0fe1156153",
})
PUBLISHED_MESSAGE = (
    "is a published example token (anybody can use it): make your own with `switchboard new-token`"
)


@dataclass(frozen=True)
class Principal:
    """The caller of an API request, as the tokens file names it."""

    name: str
    role: Role


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    role: Role
    token: SecretStr | None = None
    token_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")

    @model_validator(mode="after")
    def _one_token(self) -> TokenEntry:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token_sha256 (recommended) or token")
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"token is too short: use at least {MIN_TOKEN_LENGTH} characters")
        return self

    @property
    def digest(self) -> str:
        if self.token is not None:
            return hash_token(self.token.get_secret_value())
        assert self.token_sha256 is not None  # guaranteed by _one_token
        return self.token_sha256.lower()


_ENTRIES = TypeAdapter(list[TokenEntry])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits), prefixed so it is recognisable in a secret scanner."""
    return "sbt_" + secrets.token_urlsafe(32)


class TokenStore:
    """Maps token digests to principals; immutable once built."""

    def __init__(self, by_digest: Mapping[str, Principal] | None = None) -> None:
        self._by_digest = dict(by_digest or {})

    @classmethod
    def from_tokens(cls, tokens: Iterable[tuple[str, str, Role]]) -> TokenStore:
        """From (plain token, name, role) triples: for tests and the demo."""
        by_digest = {hash_token(token): Principal(name, role) for token, name, role in tokens}
        published = [ConfigProblem("(tokens)", PUBLISHED_MESSAGE, by_digest[d].name) for d in by_digest
                     if d in PUBLISHED_EXAMPLE_DIGESTS]  # fmt: skip
        if published:
            raise config_error(published, "refusing example API tokens")
        return cls(by_digest)

    @classmethod
    def load(cls, path: Path | None) -> TokenStore:
        """The store for `http.tokens_file`; without one, every /api/ request is refused (and logged once)."""
        if path is None:
            log.warning("no API tokens file (http.tokens_file): every /api/ request will be refused with 401")
            return cls()
        store = cls.from_file(path)
        log.info("loaded %d API tokens", len(store), extra={"file": str(path)})
        return store

    @classmethod
    def from_file(cls, path: Path) -> TokenStore:
        """Read a tokens file; any problem is a ConfigError naming file:line:col."""
        return cls.from_document(load_yaml(path))

    @classmethod
    def from_document(cls, doc: YamlDocument) -> TokenStore:
        data, prefix = doc.data, tuple[str, ...]()
        if isinstance(data, dict) and set(data) == {"tokens"}:
            data, prefix = data["tokens"], ("tokens",)
        if data is None:
            data = []
        try:
            entries = _ENTRIES.validate_python(data)
        except ValidationError as exc:
            problems = problems_from_validation(exc, doc, prefix=prefix)
            raise config_error(problems, "invalid tokens file") from None
        problems = _duplicates(entries, doc, prefix) + _published(entries, doc, prefix)
        if problems:
            raise config_error(problems, "invalid tokens file")
        return cls({entry.digest: Principal(entry.name, entry.role) for entry in entries})

    def authenticate(self, token: str) -> Principal | None:
        if not token:
            return None
        return self._by_digest.get(hash_token(token))

    def by_digest(self, digest: str) -> Principal | None:
        """The principal of a token known by its SHA-256 (a console session keeps only that)."""
        return self._by_digest.get(digest)

    def __len__(self) -> int:
        return len(self._by_digest)


def _published(entries: list[TokenEntry], doc: YamlDocument, prefix: tuple[str, ...]) -> list[ConfigProblem]:
    """Entries whose token is one of the published examples: the engine refuses to start with them."""
    problems = []
    for index, entry in enumerate(entries):
        if entry.digest in PUBLISHED_EXAMPLE_DIGESTS:
            line, column = doc.position((*prefix, index))
            problems.append(ConfigProblem(doc.file, PUBLISHED_MESSAGE, f"[{index}]", line, column))
    return problems


def _duplicates(entries: list[TokenEntry], doc: YamlDocument, prefix: tuple[str, ...]) -> list[ConfigProblem]:
    problems = []
    names: dict[str, int] = {}
    digests: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line, column = doc.position((*prefix, index))
        if entry.name in names:
            message = f"name {entry.name!r} is already used by entry {names[entry.name]}"
            problems.append(ConfigProblem(doc.file, message, f"[{index}].name", line, column))
        if entry.digest in digests:
            problems.append(
                ConfigProblem(
                    doc.file, f"same token as entry {digests[entry.digest]}", f"[{index}]", line, column
                )
            )
        names.setdefault(entry.name, index)
        digests.setdefault(entry.digest, index)
    return problems
