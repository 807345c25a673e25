"""The widget's own error messages, in the visitor's language (the engine localizes its failures itself)."""

from __future__ import annotations

import math

from otvet.core.engine import failure_message
from otvet.core.i18n import Translator


def too_long(t: Translator, limit: int) -> str:
    return t.gettext(
        "Your question is too long (more than %(limit)d characters). Please make it shorter.", limit=limit
    )


def rate_limited(t: Translator, retry_after: float) -> str:
    seconds = max(1, math.ceil(retry_after))
    return t.ngettext(
        "You are sending messages too fast. Please try again in %(n)d second.",
        "You are sending messages too fast. Please try again in %(n)d seconds.",
        seconds,
    )


def busy(t: Translator) -> str:
    return t.gettext("Please wait until the answer to your previous question is finished.")


def bad_request(t: Translator, detail: str) -> str:
    # The detail is for the developer of a client and stays English; the sentence around it is the visitor's.
    return t.gettext("The chat could not understand that message (%(detail)s).", detail=detail)


def unauthenticated(t: Translator) -> str:
    return t.gettext("Your sign-in has expired. Please reload the page.")


def not_found(t: Translator) -> str:
    return t.gettext("That answer was not found in this conversation.")


def internal_error(t: Translator) -> str:
    return t.gettext("Sorry, I could not answer right now. Please try again in a minute.")


def unavailable(t: Translator) -> str:
    return failure_message(t, "unavailable")  # the engine's words for the same failure
