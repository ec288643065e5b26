#!/usr/bin/env python3
"""Faulty variant of client.py: sends names longer than 1024 bytes instead
of refusing them (breaks CLI-LIMIT-1). Everything else is client.py's."""

import client

client.check_length = lambda data: None

if __name__ == "__main__":
    client.main()
