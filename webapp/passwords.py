"""Which passwords are refused: too short, too common (breached), or made of words that name this service.

Length is the only composition rule (ASVS 6.2.5: any characters, no required mix). Common passwords come from
zxcvbn's list of the 30,000 most frequent passwords in public breach corpora (shipped in the package; nothing is
fetched). Context words are the service's, the partnership world's and the person's own (their email and name).
A candidate is compared whole, lower-cased, and again with the digits and punctuation people add at either end
removed, so "Password2026!" counts as "password".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

MIN_LENGTH = 10
# Long passphrases are welcome (ASVS 6.2.9 asks for at least 64); the cap only keeps hashing bounded.
MAX_LENGTH = 256

# ASVS 6.1.2: words a person is likely to build a password from here. Documented in docs/security.md.
CONTEXT_WORDS = frozenset(
    {
        "commintel",
        "community",
        "communityintelligence",
        "community intelligence",
        "intelligence",
        "partnership",
        "partnerships",
        "bristol",
        "convenor",
        "funder",
        "resident",
        "member",
        "admin",
        "administrator",
        "observation",
        "observations",
        "briefing",
        "foodbank",
        "food bank",
        "mutualaid",
        "mutual aid",
        "charity",
        "password",
        "passw0rd",
        "letmein",
        "welcome",
    }
)

_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@functools.cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: PLC0415 - heavy: loaded on the first check

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def common_password_count() -> int:
    return len(_common())


def _forms(password: str) -> set[str]:
    lowered = password.lower()
    core = _EDGES.sub("", lowered)
    return {lowered, core, core.replace(" ", ""), core.replace("-", "").replace("_", "").replace(" ", "")} - {""}


def problem(password: str, personal: Iterable[str] = ()) -> str | None:
    """Why ``password`` cannot be used, in the person's words, or None when it can."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return f"Choose a password of at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Choose a password of at most {MAX_LENGTH} characters."
    forms = _forms(password)
    if forms & _common():
        return "This password is one of the most common ones people use; choose something less guessable."
    context = set(CONTEXT_WORDS)
    for item in personal:
        item = (item or "").strip().lower()
        if len(item) >= 3:
            context |= {item, item.split("@")[0], item.replace(" ", "")}
    if forms & context:
        return "Do not build the password from your name, your email or the name of this service."
    return None
