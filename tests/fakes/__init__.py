"""Fake platform servers for the tests, on 127.0.0.1."""
