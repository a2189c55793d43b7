"""The few named exceptions of sepdesk; each boundary (CLI, SMTP handler, runner) fences them."""

import re

# C0 and C1 control characters: escaped in error lines, refused in imported fields.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """An error's text as one line that a terminal or log shows as it is: runs of
    whitespace (line breaks too) as one space, other control characters as escapes
    (an ESC from a server's answer or a user's argument would drive the terminal)."""
    return CONTROL.sub(lambda m: ascii(m.group())[1:-1], " ".join(text.split()))


class SepdeskError(Exception):
    """Base of every error sepdesk raises on purpose; its text is one line for a person."""


class ConfigError(SepdeskError):
    """The configuration file is missing, unreadable, or has an unknown key or wrong type."""


class NotFound(SepdeskError):
    """A ticket, Call ID, quarantine entry or other record named by the user does not exist."""


class InvalidTransition(SepdeskError):
    """A ticket action is impossible from the ticket's current state (e.g. solving a closed one)."""


class InputError(SepdeskError):
    """A file or value given by the user is malformed (bad CSV row, bad date, unreadable file)."""


class StoreError(SepdeskError):
    """The database could not be opened, migrated or written."""


class DeliveryError(SepdeskError):
    """An outgoing mail could not be handed to the relay; ``permanent`` says whether to retry."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
