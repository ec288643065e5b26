#!/usr/bin/env python3
"""Faulty variant of client.py: encodes the name as Latin-1, not UTF-8
(breaks CLI-SEND-1). Everything else is client.py's."""

import client

client.encode = lambda name: name.encode("latin-1", "replace")

if __name__ == "__main__":
    client.main()
