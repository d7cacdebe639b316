"""The plain records one message travels in through ingest: no I/O, no ORM.

A :class:`Message` is made once, where the message enters ingest (the MQTT receiver, the simulator's
backfill, a quarantine replay), and is never changed. The pipeline turns it into an :class:`Outcome` (lines
to write, a :class:`Rejection` to keep, or "duplicate"), which carries the message on to the writer; the
writer hands the message's ``ack`` back to whoever made it once the outcome is stored.

``ack`` is an :class:`AckToken`: opaque to everything but the code that made it (the receiver's token names
a connection and an MQTT packet id; a replay's token names a quarantine row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from devices.codecs.base import DecodeResult
from stadtpuls.schema import Uplink


class AckToken:
    """Something owed to the message's source once the message is stored; opaque to ingest.

    Only the code that made a token looks inside it (it subclasses this class); ingest only carries it.
    """

    __slots__ = ()


class Message(NamedTuple):
    """One raw message as it arrived: immutable, made once where it enters ingest."""

    topic: str
    payload: bytes
    arrival_ns: int  # when it arrived (ns since the epoch); the time of envelopes without a server time
    ack: AckToken | None = None  # released once the message's outcome is stored; None: nothing to release


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one message was rejected, with the message itself, before it goes to quarantine."""

    message: Message
    stage: str  # size | envelope | time | device | codec | normalise | write | internal
    reason: str
    dev_eui: str | None = None
    municipality: str | None = None


@dataclass(frozen=True, slots=True)
class Deferred:
    """A decode left to a sandboxed (JavaScript) codec that runs outside the event loop.

    Whoever runs the codec calls ``complete`` with its result; that fills in the outcome's lines or rejection.
    """

    codec_js: Path  # the codec's file
    f_port: int
    payload: bytes
    complete: Callable[[DecodeResult], object]


@dataclass(slots=True, init=False)
class Outcome:
    """What became of one message: lines to write and/or a rejection to keep, or nothing (a duplicate)."""

    message: Message
    lines: list[str]
    rejection: Rejection | None
    uplink: Uplink | None
    model: str
    duplicate: bool  # an uplink stored already (gateway copy, redelivery): nothing to store
    deferred: Deferred | None  # not complete until its sandboxed codec has answered (ingest.codecpool)

    def __init__(
        self,
        message: Message,
        lines: list[str] | None = None,
        rejection: Rejection | None = None,
        uplink: Uplink | None = None,
        model: str = "",
        duplicate: bool = False,
        deferred: Deferred | None = None,
    ) -> None:
        # written out: a dataclass's default factory costs a call, once per message on the hot path
        self.message = message
        self.lines = [] if lines is None else lines
        self.rejection = rejection
        self.uplink = uplink
        self.model = model
        self.duplicate = duplicate
        self.deferred = deferred
