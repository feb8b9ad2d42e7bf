"""Error codes and websocket close codes: the one registry.

Error codes travel in `{"t":"error","code":...}` frames; the connection stays open.

Close codes end a connection. Which ones mean "reconnect":
- 1012 SERVICE_RESTART: the pod is shutting down; reconnect at once (another pod answers).
- 1013 TRY_AGAIN_LATER: the pod is not ready (no canvas yet); reconnect with backoff.
- 1008 POLICY_VIOLATION: too many frames; reconnect with backoff.
- 1009 MESSAGE_TOO_BIG: a frame over 4096 bytes; a client bug, reconnecting repeats it.
- 1011 (uvicorn's): no pong within PLACE_PING_TIMEOUT_S; a client that sees it reconnects.

Before the upgrade a handshake may get HTTP 403 (origin not allowed, too many connections from
the address) or 503 (the pod is full): see `place.api.door`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    COOLDOWN = "cooldown"
    OUT_OF_BOUNDS = "out_of_bounds"
    BAD_COLOR = "bad_color"
    UNAUTHENTICATED = "unauthenticated"
    TOKEN_EXPIRED = "token_expired"
    BANNED = "banned"
    CLOSED = "closed"
    BAD_MESSAGE = "bad_message"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.COOLDOWN: "You are on cooldown; wait until retry_at_ms.",
    ErrorCode.OUT_OF_BOUNDS: "That pixel is outside the canvas.",
    ErrorCode.BAD_COLOR: "That colour is not in the palette.",
    ErrorCode.UNAUTHENTICATED: "Sign in to place pixels.",
    ErrorCode.TOKEN_EXPIRED: "Your sign-in has expired; send a fresh token with auth.",
    ErrorCode.BANNED: "You are banned from placing pixels.",
    ErrorCode.CLOSED: "The canvas is closed.",
    ErrorCode.BAD_MESSAGE: "The message is not valid.",
    ErrorCode.RATE_LIMITED: "Too many messages; slow down.",
    ErrorCode.UNAVAILABLE: "The canvas is unavailable right now; try again shortly.",
}

WS_NORMAL_CLOSURE = 1000
WS_POLICY_VIOLATION = 1008
WS_MESSAGE_TOO_BIG = 1009
WS_SERVICE_RESTART = 1012
WS_TRY_AGAIN_LATER = 1013

MAX_CLIENT_MESSAGE_BYTES = 4096
