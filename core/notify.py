"""Word that an action waits for a person: ``[review] webhook`` is POSTed a Slack-compatible
JSON message (``text``, with a link to the action's page on goex-review at ``[review] url``).

The message names the action, its kind and target and how long it waits — never its code or
effects, which only a signed-in person sees on the page. A webhook that fails costs one line on
stderr and never the action. Both settings are operator-only (``core.config``): a project file
the agent wrote cannot send word elsewhere.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from core.action import Action
from core.config import ReviewConfig, load_config
from core.errors import GoexError

TIMEOUT = 5.0  # seconds a webhook may take


def announce_waiting(
    action: Action, deadline: str | None, config: ReviewConfig | None = None
) -> None:
    """Post word of ``action`` waiting (until ``deadline``, or kept) to ``[review] webhook``."""
    try:
        review = load_config().review if config is None else config
    except GoexError as exc:  # the action was checked against this config already
        _line(f"goex: no word sent of the waiting action ({exc.message})")
        return
    if not review.webhook:
        return
    link = f"{review.url.rstrip('/')}/actions/{action.id}"
    until = f" until {deadline[:19].replace('T', ' ')} UTC" if deadline else " (kept staged)"
    text = (
        f"goex: {action.kind.value} action {action.id} on {action.target} waits for a "
        f"decision{until}: <{link}|review it>"
    )
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        review.webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        if urlsplit(review.webhook).scheme not in ("http", "https"):
            raise ValueError("the webhook must be an http:// or https:// URL")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read()
    except (OSError, ValueError, urllib.error.URLError) as exc:
        _line(f"goex: the [review] webhook could not be told ({exc})")


def _line(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
