"""Bearer tokens with roles: who is asking, and what they may do.

Roles are ordered, each allowing what the one before allows: `viewer` (every GET), `operator`
(halt, resume, reduce-only, the audit trail), `admin` (limits). Tokens are configured as
`TokenSpec`s — a name (the `changed_by` of what its holder changes), a role, and the token or
its SHA-256 hex digest — from `HEDGEMESH_API_TOKENS_FILE` (JSON or YAML), `HEDGEMESH_API_TOKENS`
(JSON) or one per role (`HEDGEMESH_API_ADMIN_TOKEN`, `_OPERATOR_TOKEN`, `_VIEWER_TOKEN`, each
named after its role). Only digests are kept: a presented token is hashed and compared with
every digest in constant time.

Outside development mode (`HEDGEMESH_DEV_MODE=1`) the API refuses to start with no token, an
empty or short one (under 32 characters), one with fewer than 10 distinct characters, or a
well-known default; the message names the setting. In development mode those are warnings, and
with no token at all every request is `DEV_CALLER` (an admin).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

__all__ = [
    "DEV_CALLER",
    "MIN_TOKEN_CHARS",
    "AuthConfigError",
    "Caller",
    "Role",
    "TokenSpec",
    "TokenTable",
    "sha256_hex",
    "token_table",
]

log = logging.getLogger(__name__)

#: Shortest token accepted outside development mode (a 192-bit random token is 32 base64 chars).
MIN_TOKEN_CHARS = 32
#: Fewest distinct characters in a token (rules out "aaaa…" and repeated words).
MIN_DISTINCT_CHARS = 10
#: Placeholders people paste and forget; refused whatever their length.
WELL_KNOWN = frozenset(
    {
        "",
        "admin",
        "changeme",
        "change-me",
        "default",
        "password",
        "secret",
        "test",
        "token",
        "changeme" * 4,
        "replace-with-a-long-random-secret",
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdefghijklmnopqrstuvwxyz",
    }
)
DEV_MODE_SETTING = "HEDGEMESH_DEV_MODE"
_NAME_PATTERN = r"^[\x21-\x7e]{1,64}$"


class AuthConfigError(ValueError):
    """The API's tokens are missing or unsafe; the message names the setting to fix."""


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        return _RANKS[self] >= _RANKS[needed]


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from: the token's name and role."""

    name: str
    role: Role


#: Every request in development mode with no tokens configured.
DEV_CALLER = Caller("dev", Role.ADMIN)


def sha256_hex(token: str) -> str:
    """The digest a tokens file may hold instead of the token (`printf %s TOKEN | sha256sum`)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenSpec(BaseModel):
    """One configured token: exactly one of `token` and `sha256`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME_PATTERN, description="Who holds it (printable, no spaces).")
    role: Role
    token: SecretStr | None = Field(default=None, description="The token itself.")
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Or its SHA-256, hex."
    )

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if (self.token is None) == (self.sha256 is None):
            raise ValueError("give exactly one of token and sha256")
        return self

    def digest(self) -> bytes:
        if self.token is not None:
            return hashlib.sha256(self.token.get_secret_value().encode()).digest()
        assert self.sha256 is not None
        return bytes.fromhex(self.sha256)


_WELL_KNOWN_DIGESTS = frozenset(hashlib.sha256(t.encode()).digest() for t in WELL_KNOWN)


class TokenTable:
    """The configured tokens, as digests; `caller(token)` says whose a token is."""

    def __init__(self, entries: Iterable[tuple[bytes, Caller]]) -> None:
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def caller(self, token: bytes) -> Caller | None:
        """The caller holding `token`, or None. Every digest is compared (constant time in
        the token; the digests of tokens are all the same length)."""
        digest = hashlib.sha256(token).digest()
        found = None
        for known, caller in self._entries:
            if hmac.compare_digest(known, digest):
                found = caller
        return found


def _weakness(spec: TokenSpec) -> str | None:
    """Why a token is unsafe, or None."""
    if spec.digest() in _WELL_KNOWN_DIGESTS:
        return "is empty or a well-known default"
    if spec.token is None:
        return None  # a digest: nothing more can be checked
    token = spec.token.get_secret_value()
    if len(token) < MIN_TOKEN_CHARS:
        return f"is {len(token)} characters long, under the {MIN_TOKEN_CHARS} required"
    if len(set(token)) < MIN_DISTINCT_CHARS:
        return f"has fewer than {MIN_DISTINCT_CHARS} distinct characters"
    return None


def read_tokens_file(path: Path) -> list[TokenSpec]:
    """`{"tokens": [...]}` or a bare list of `TokenSpec`s, in JSON or YAML."""
    setting = f"HEDGEMESH_API_TOKENS_FILE ({path})"
    try:
        text = path.read_text()
    except OSError as error:
        raise AuthConfigError(f"{setting} cannot be read: {error.strerror or error}") from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise AuthConfigError(f"{setting} is not valid JSON or YAML: {error}") from None
    if isinstance(data, dict) and set(data) == {"tokens"}:
        data = data["tokens"]
    if not isinstance(data, list):
        raise AuthConfigError(f'{setting} must hold a list of tokens or {{"tokens": [...]}}')
    try:
        return [TokenSpec.model_validate(item) for item in data]
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "entry"
        raise AuthConfigError(f"{setting}: {where}: {first['msg']}") from None


def _sources(settings: Any) -> list[tuple[str, TokenSpec]]:
    """Every configured token with the setting it came from."""
    found: list[tuple[str, TokenSpec]] = []
    if settings.tokens_file is not None:
        source = f"HEDGEMESH_API_TOKENS_FILE ({settings.tokens_file})"
        found += [(source, spec) for spec in read_tokens_file(settings.tokens_file)]
    found += [("HEDGEMESH_API_TOKENS", spec) for spec in settings.tokens]
    for role in Role:
        secret: SecretStr | None = getattr(settings, f"{role.value}_token")
        if secret is not None:
            source = f"HEDGEMESH_API_{role.value.upper()}_TOKEN"
            found.append((source, TokenSpec(name=role.value, role=role, token=secret)))
    return found


def token_table(settings: Any) -> TokenTable | None:
    """The tokens of `settings` (an `ApiSettings`), checked; None in development mode with no
    tokens (an open API). `AuthConfigError` names the setting that is missing or unsafe."""
    sources = _sources(settings)
    dev = bool(settings.dev_mode)
    if not sources:
        if dev:
            host = str(getattr(settings, "host", "127.0.0.1"))
            if not is_loopback(host):
                raise AuthConfigError(
                    f"{DEV_MODE_SETTING}=1 with no tokens makes every caller an admin: allowed "
                    f"only on a loopback host, not HEDGEMESH_API_HOST={host} (set a token, or "
                    "listen on 127.0.0.1)"
                )
            log.warning(
                "api: %s=1 and no tokens: every request from this machine is an admin (others "
                "are refused)", DEV_MODE_SETTING,
            )  # fmt: skip
            return None
        raise AuthConfigError(
            "the API has no tokens: set HEDGEMESH_API_TOKENS_FILE (a JSON or YAML list of "
            "{name, role, token or sha256}), HEDGEMESH_API_TOKENS or HEDGEMESH_API_ADMIN_TOKEN "
            f"(`hedgemesh up` writes one), or {DEV_MODE_SETTING}=1 for an open API in development"
        )
    _check_unique(sources)
    for source, spec in sources:
        weakness = _weakness(spec)
        if weakness is None:
            continue
        message = f"the token {spec.name!r} in {source} {weakness}"
        if not dev:
            raise AuthConfigError(
                f"{message}: use a random one (`python -c 'import secrets; "
                f"print(secrets.token_urlsafe(32))'`), or set {DEV_MODE_SETTING}=1 in development"
            )
        log.warning("api: %s (accepted: %s=1)", message, DEV_MODE_SETTING)
    return TokenTable((spec.digest(), Caller(spec.name, spec.role)) for _, spec in sources)


def is_loopback(host: str | None) -> bool:
    """Whether `host` (an address or `localhost`) is this machine alone."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_unique(sources: Sequence[tuple[str, TokenSpec]]) -> None:
    names: dict[str, str] = {}
    digests: dict[bytes, str] = {}
    for source, spec in sources:
        if spec.name in names:
            raise AuthConfigError(
                f"two tokens are named {spec.name!r} (in {names[spec.name]} and {source})"
            )
        if spec.digest() in digests:
            raise AuthConfigError(
                f"the tokens {digests[spec.digest()]!r} and {spec.name!r} ({source}) are the same"
            )
        names[spec.name] = source
        digests[spec.digest()] = spec.name
