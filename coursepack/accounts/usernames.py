"""Username rules at creation: reserved names, and uniqueness that ignores case and
look-alike characters.

Two names are the same name when their *keys* are equal: the key is the name in
Unicode NFKC, case-folded, with every character replaced by one representative of
its class of confusable characters (Unicode's confusables, as the locked
``confusable-homoglyphs`` package ships them), normalised again. So ``Alice``,
``ALICE``, ``a1ice``, "alice" with a Cyrillic a (U+0430) and "alice" in full-width
letters (U+FF41...) share one key; ``0`` reads as ``o``.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["RESERVED_USERNAMES", "is_reserved", "username_key"]

# Names the system uses for itself or that read as if it spoke: an account called
# "system" would make the audit log lie about who did what.
RESERVED_USERNAMES = frozenset(
    {
        "system",
        "root",
        "anonymous",
        "coursepack",
        "administrator",
        "superuser",
        "api",
        "support",
        "security",
        "nobody",
    }
)


# Look-alikes inside ASCII itself (as Unicode's skeletons treat them).
_ASCII_LOOKALIKES = {"1": "l", "|": "l", "0": "o"}


@lru_cache(maxsize=1)
def _representatives() -> dict[str, str]:
    """Return, for each non-ASCII character that looks like an ASCII letter or digit,
    that ASCII character (lower case preferred); and the ASCII look-alikes.

    Only mapping *to* ASCII, never chaining through the table: the table's classes,
    joined transitively, would make ``t`` and ``r`` one letter.
    """
    from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

    found: dict[str, str] = dict(_ASCII_LOOKALIKES)
    for char, homoglyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_forms = sorted(
            {
                g["c"]
                for g in homoglyphs
                if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()
            },
            key=lambda c: (not c.islower(), c),
        )
        if ascii_forms:
            found[char] = ascii_forms[0].casefold()
    return found


def username_key(username: str) -> str:
    """Return the key two usernames share when a person could not tell them apart."""
    representatives = _representatives()

    def look_alike(text: str) -> str:
        return "".join(representatives.get(c, c) for c in text)

    # Mapped before and after case folding: a capital may look like an ASCII
    # letter that its small form does not (Greek Eta, H; eta, n).
    text = look_alike(unicodedata.normalize("NFKC", username.strip()))
    text = look_alike(text.casefold())
    return unicodedata.normalize("NFKC", text).casefold()


def is_reserved(username: str) -> bool:
    """Return whether the name is one the system keeps for itself (confusables too)."""
    key = username_key(username)
    return any(username_key(name) == key for name in RESERVED_USERNAMES)
