"""A JavaScript codec in a process of its own, so that a slow codec never holds up the caller's event loop.

A vendor codec may take up to its time limit (100 ms of CPU by default) for every uplink. Run in the process
that receives MQTT, each such call would stop everything else for that long. :class:`JsWorker` starts
``python -m devices.jsworker FILE`` (the same :class:`~devices.jscodec.JsCodec` sandbox, with the same limits)
and talks to it over its standard input and output: one request, one answer, each a length-prefixed msgpack
frame. A process, not a thread: QuickJS measures its time limit in process CPU time, and a worker's own process
keeps that measure to the codec alone (and a crash of the engine takes only the worker down).

The caller awaits :meth:`JsWorker.decode`. It never raises for anything the codec or its process does: a codec
that does not answer within ``answer_timeout`` seconds (wall clock, a guard above the CPU limit), or a worker
process that dies, yields a :class:`~devices.codecs.base.DecodeResult` whose ``errors`` say so, and the next call
starts a new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import sys
from pathlib import Path
from typing import Any

import msgspec

from devices.codecs.base import DecodeResult

ANSWER_TIMEOUT = 5.0  # s (wall clock) a worker may take to answer before it is replaced; the CPU limit is lower
_HEADER = struct.Struct("!I")  # the byte length of the frame that follows
_ENCODER = msgspec.msgpack.Encoder()
_REQUEST = msgspec.msgpack.Decoder(tuple[int, bytes])
_ANSWER = msgspec.msgpack.Decoder(dict[str, Any])


def _frame(value: object) -> bytes:
    body = _ENCODER.encode(value)
    return _HEADER.pack(len(body)) + body


class JsWorker:
    """One worker process running one JavaScript codec; calls are answered one at a time, in order.

    Args:
        path: the codec's ``.js`` file.
        time_limit_ms: CPU time one call may take inside the sandbox, ms.
        answer_timeout: seconds (wall clock) to wait for an answer before the process is replaced.
    """

    def __init__(self, path: Path, *, time_limit_ms: float, answer_timeout: float = ANSWER_TIMEOUT) -> None:
        self.path = path
        self.time_limit_ms = time_limit_ms
        self.answer_timeout = answer_timeout
        self.restarts = 0  # processes replaced after a timeout or a crash
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def decode(self, f_port: int, payload: bytes) -> DecodeResult:
        """Decode one uplink in the worker process; problems become ``errors`` (see the module docstring)."""
        async with self._lock:
            try:
                process = await self._ensure()
            except OSError as exc:
                return _fail(f"cannot start the codec worker for {self.path.name}: {exc}")
            try:
                return await asyncio.wait_for(self._ask(process, f_port, payload), self.answer_timeout)
            except TimeoutError:
                await self._replace()
                return _fail(f"codec did not answer within {self.answer_timeout:g} s; its worker was restarted")
            except (asyncio.IncompleteReadError, ConnectionError, msgspec.DecodeError) as exc:
                code = await self._replace()
                return _fail(f"codec worker ended while decoding (exit code {code}, {type(exc).__name__})")

    async def _ask(self, process: asyncio.subprocess.Process, f_port: int, payload: bytes) -> DecodeResult:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(_frame((f_port, payload)))
        await process.stdin.drain()
        (size,) = _HEADER.unpack(await process.stdout.readexactly(_HEADER.size))
        answer = _ANSWER.decode(await process.stdout.readexactly(size))
        return {
            "data": answer.get("data") or {},
            "warnings": list(answer.get("warnings") or []),
            "errors": list(answer.get("errors") or []),
        }

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "devices.jsworker", str(self.path), str(self.time_limit_ms),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )
        return self._process

    async def _replace(self) -> int | None:
        """End the current process (the next call starts a new one); its exit code, if it had one."""
        self.restarts += 1
        return await self._end()

    async def _end(self) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        return await process.wait()

    async def close(self) -> None:
        """Stop the worker process."""
        await self._end()


def _fail(message: str) -> DecodeResult:
    return {"data": {}, "warnings": [], "errors": [message]}


def serve(path: str, time_limit_ms: float) -> int:
    """The worker process: answer decode requests from standard input until it closes."""
    from devices.jscodec import JsCodec, JsCodecError  # the engine is needed here only

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        codec: JsCodec | None = JsCodec(Path(path), time_limit_ms=time_limit_ms)
        load_error = ""
    except JsCodecError as exc:  # answered to every request, so the caller quarantines with the reason
        codec, load_error = None, str(exc)
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return 0
        (size,) = _HEADER.unpack(header)
        f_port, payload = _REQUEST.decode(stdin.read(size))
        result = codec.decode(f_port, payload) if codec is not None else _fail(load_error)
        stdout.write(_frame(result))
        stdout.flush()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], float(sys.argv[2])))
