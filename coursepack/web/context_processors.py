"""What every page needs to know about the person looking at it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from coursepack.accounts import api as accounts


def role(request: HttpRequest) -> dict[str, Any]:
    """Give templates the signed-in user's role ("admin", "auditor", "learner" or None)."""
    user = getattr(request, "user", None)
    found = accounts.role_of(user) if user is not None else None
    return {"cp_role": found.value if found is not None else None}
