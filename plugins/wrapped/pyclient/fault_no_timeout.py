#!/usr/bin/env python3
"""Faulty variant of client.py: waits for a silent server forever, ignoring
its timeout (breaks CLI-TIMEOUT-1). Everything else is client.py's."""

import socket

import client


def exchange(host, port, data, timeout):
    reply = b""
    try:
        with socket.create_connection((host, port)) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while len(reply) < client.LIMIT:
                piece = sock.recv(client.LIMIT - len(reply))
                if not piece:
                    break
                reply += piece
    except OSError as err:
        client.fail(err.strerror or str(err), reply)
    return reply


client.exchange = exchange

if __name__ == "__main__":
    client.main()
