"""our/place: a shared pixel canvas for r/place-style events."""

__version__ = "0.1.0"
