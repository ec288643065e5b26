#!/usr/bin/env python3
"""Faulty variant of client.py: decodes the reply strictly and dies with
UnicodeDecodeError on invalid UTF-8 (breaks CLI-UTF8-1). Everything else is
client.py's."""

import client

client.decode = lambda reply: reply.decode("utf-8")

if __name__ == "__main__":
    client.main()
