#!/usr/bin/env python3
"""Greeting-protocol server on asyncio streams: one task per connection.

Usage: server.py HOST PORT IDLE_TIMEOUT_MS

Written from specs/PROTOCOL.md alone. Logs one line per greeted connection
on standard output: "connected with: HOST:PORT NAME".
"""

import asyncio
import sys

GREETING = b"welcome to Asif server"
LIMIT = 1024
SEPARATORS = {"\u2028": "\\u2028", "\u2029": "\\u2029"}


def printable(name):
    """The decoded name with control characters and U+2028/U+2029 escaped."""
    return "".join(
        "\\x%02x" % ord(c) if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F
        else SEPARATORS.get(c, c)
        for c in name)


async def handle(reader, writer, idle):
    loop = asyncio.get_running_loop()
    host, port = writer.get_extra_info("peername")[:2]
    try:
        name = bytearray()
        while len(name) < LIMIT:
            try:
                piece = await asyncio.wait_for(reader.read(LIMIT - len(name)), idle)
            except asyncio.TimeoutError:
                if not name:
                    return  # idle from the start: no greeting
                break
            if not piece:
                break
            name += piece
        text = bytes(name).decode("utf-8", errors="replace")
        print(f"connected with: {host}:{port} {printable(text)}", flush=True)
        writer.write(GREETING)
        await writer.drain()
        writer.write_eof()
        deadline = loop.time() + idle
        while (left := deadline - loop.time()) > 0:
            try:
                if not await asyncio.wait_for(reader.read(65536), left):
                    break
            except asyncio.TimeoutError:
                break
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(host, port, idle):
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, idle), host, port, backlog=128)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: server.py HOST PORT IDLE_TIMEOUT_MS")
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000))
