"""The workflows behind each `govops` command: each composes the stages in order and returns a
frozen record of what it did. They print nothing and know nothing of click; `engine.cli` parses,
calls one of them, and prints what it returns."""
