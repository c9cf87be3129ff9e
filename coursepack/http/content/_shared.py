"""What the content routes share: their router, the ETag / If-Match handling of drafts,
and the state of versions as a person should be told it."""

from __future__ import annotations

from django.utils import timezone
from ninja import Header, Router

from coursepack.packaging import selectors
from coursepack.packaging.errors import StaleRevision
from coursepack.packaging.models import PackageVersion

router = Router()


# --- drafts carry a version tag (ETag / If-Match) ----------------------------------


def _etag(revision: int) -> str:
    return f'"{revision}"'


IF_MATCH = r'^\s*(\*|(W/)?"?[0-9]{1,18}"?)\s*$'
IfMatch = Header(
    None,
    alias="If-Match",
    pattern=IF_MATCH,
    description=(
        'The ETag of the draft you edit, e.g. "7"; a stale one is refused with 412. '
        "`*` (or no If-Match) edits whatever the draft is now."
    ),
)


def _expected(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip()
    if tag.startswith("W/"):
        # If-Match compares strongly (RFC 9110 13.1.1): a weak tag matches nothing.
        raise StaleRevision(
            f"If-Match {if_match!r} is a weak ETag, which never matches a draft; send the "
            "draft's ETag as GET returned it, without W/."
        )
    tag = tag.strip('"')
    if not tag.isdigit():
        raise StaleRevision(
            f"If-Match {if_match!r} is not an ETag this API issued; GET the draft and use its ETag."
        )
    return int(tag)


def _states(versions: list[PackageVersion]) -> dict[int, str]:
    if not versions:
        return {}
    now = timezone.now()
    active = selectors.active_version(versions[0].package_id, now)
    active_id = active.pk if active else None
    return {v.pk: selectors.version_state(v, active_id=active_id, now=now) for v in versions}
