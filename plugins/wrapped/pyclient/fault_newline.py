#!/usr/bin/env python3
"""Faulty variant of client.py: sends the name with a line ending appended
(breaks CLI-SEND-1). Everything else is client.py's."""

import client

correct_encode = client.encode
client.encode = lambda name: correct_encode(name) + b"\n"

if __name__ == "__main__":
    client.main()
