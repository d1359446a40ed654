"""``--grpc_channel_arguments``: gRPC server arguments, parsed and applied as TF Serving does.

TF Serving (model_servers/server.cc) splits the flag on commas, each piece on ``=``,
and passes a value that reads as a 32-bit integer (absl::SimpleAtoi: optional sign,
spaces around allowed) as an integer argument, anything else as a string; gRPC
ignores arguments it does not know. A piece that is not ``key=value`` is undefined
behaviour there and refused here.

The arguments are applied over this server's defaults, so
``grpc.max_receive_message_length`` replaces the message-size limit below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ChannelArgument = tuple[str, int | str]

MAX_RECEIVE_MESSAGE_LENGTH = "grpc.max_receive_message_length"
# Ours, not TF Serving's: TF Serving accepts messages up to 2 GiB, and a 153 MiB tensor
# was once decoded (and its memory kept) by this server. 64 MiB is what the gateway sends
# at most by default (TFSERVING_MAX_MESSAGE_BYTES), so nothing it forwards is refused.
DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024

DEFAULT_SERVER_ARGUMENTS: tuple[ChannelArgument, ...] = (
    (MAX_RECEIVE_MESSAGE_LENGTH, DEFAULT_MAX_RECEIVE_MESSAGE_BYTES),
    # Answers may be as large as TF Serving's (it sets no limit below 2 GiB).
    ("grpc.max_send_message_length", -1),
    # gRPC turns SO_REUSEPORT on by default, which lets a second server silently share a
    # busy port; a port conflict must be an error at start-up instead.
    ("grpc.so_reuseport", 0),
)

_INT32_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


class ChannelArgumentsError(ValueError):
    pass


def _value(text: str) -> int | str:
    if _INT32_TEXT.fullmatch(text):
        number = int(text)
        if _INT32_MIN <= number <= _INT32_MAX:
            return number
    return text


def parse_channel_arguments(text: str) -> tuple[ChannelArgument, ...]:
    """``grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb`` -> (key, value) pairs."""
    if not text:
        return ()
    arguments = []
    for piece in text.split(","):
        key, separator, value = piece.partition("=")
        if not separator or not key or "=" in value:
            raise ChannelArgumentsError(
                f"--grpc_channel_arguments: {piece!r} is not key=value "
                "(expected a comma-separated list such as grpc.max_connection_age_ms=2000)"
            )
        arguments.append((key, _value(value)))
    return tuple(arguments)


def server_arguments(arguments: Sequence[ChannelArgument]) -> list[ChannelArgument]:
    """This server's defaults with ``arguments`` applied over them (the last value of a key
    wins, as in gRPC)."""
    merged = dict(DEFAULT_SERVER_ARGUMENTS)
    merged.update(arguments)
    return list(merged.items())
