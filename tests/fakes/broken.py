"""A channel with a bug in it: delivery must survive it."""

from __future__ import annotations

from typing import Any

from ethics_audit.notify.base import Channel


class BrokenChannel(Channel):
    name = "slack"

    def __init__(self, *, settings: Any):
        pass

    def send(self, item: Any, ctx: Any, *, retry: bool) -> Any:
        return 1 / 0
