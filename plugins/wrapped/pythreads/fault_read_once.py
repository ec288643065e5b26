#!/usr/bin/env python3
"""Faulty variant of server.py: takes one read as the name (breaks
SRV-NAME-1). Everything else is server.py's."""

import socket

import server


def read_name(conn, idle):
    conn.settimeout(idle)
    try:
        return conn.recv(server.LIMIT)
    except socket.timeout:
        return None


server.read_name = read_name

if __name__ == "__main__":
    server.main()
