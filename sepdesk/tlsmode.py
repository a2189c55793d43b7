"""Naming a ``tls`` setting that does not fit the server's port (IMAP poller, relay sender).

``tls = "tls"`` against a port that begins in plain text fails its handshake with
"wrong version number"; ``starttls`` or ``none`` against a port that speaks TLS at once
waits for a greeting that never comes. Neither error says what to change.
"""

from __future__ import annotations

import socket
import ssl


def speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether ``host:port`` answers a TLS handshake (an IMAPS or SMTPS port). Nothing is
    verified: no password and no mail goes over it, the answer only names the fault."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            context.wrap_socket(sock, server_hostname=host).close()
    except ssl.SSLError as exc:
        # A TLS alert is TLS too (an old protocol version, no shared cipher); a plain
        # answer is "wrong version number".
        return "ALERT" in str(exc.reason).upper()
    except OSError:
        return False
    return True


def plain_text_answer(exc: BaseException) -> bool:
    """Whether a TLS handshake failed because the server answered in plain text (a
    greeting): the port wants STARTTLS, or no TLS at all."""
    return isinstance(exc, ssl.SSLError) and exc.reason == "WRONG_VERSION_NUMBER"
