"""The project's exceptions.

PlaceError                 root: an expected failure, reported in one line, never a traceback
├── SettingsError          a setting or command-line value is not valid
├── RedisUnavailable       Redis cannot be reached
├── ProtocolError          a client frame does not follow the websocket protocol
└── AdminError             an admin command cannot be applied as asked
"""

from __future__ import annotations


class PlaceError(Exception):
    """Root of every expected failure: the CLI prints its message and exits 1."""


class SettingsError(PlaceError):
    """A setting (environment variable or flag) is not valid."""


class RedisUnavailable(PlaceError):
    """Redis does not answer at the configured URL."""


class ProtocolError(PlaceError):
    """A client message is malformed; answered with the error code `bad_message`.

    `place_id` is the message's own `id` when the frame got far enough to have one.
    """

    def __init__(self, message: str, place_id: object = None) -> None:
        super().__init__(message)
        self.place_id = place_id


class AdminError(PlaceError):
    """An admin command was refused (bad size, missing canvas, ...)."""
