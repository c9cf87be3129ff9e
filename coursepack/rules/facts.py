"""The lifecycle facts the engine evaluates besides completion events.

Exemptions, their revocations, equivalences and their changes are appended, never
edited; like completion events each has the time it is true from and the time it
was recorded, so the engine answers "as of t, as known at r" over them exactly as
over completions (PRODUCT.md, "Compliance lifecycle").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

__all__ = [
    "Equivalence",
    "EquivalenceChange",
    "Exemption",
    "ExemptionKey",
    "ExemptionRevocation",
    "WaiverReason",
    "exemptions_in_force",
    "next_lapse",
]


class WaiverReason(StrEnum):
    """Why an item was waived: cmi5's ``waived`` reason vocabulary."""

    # The learner showed, by a test, that they know the content.
    TESTED_OUT = "tested_out"
    # Another activity of the same kind covers it.
    EQUIVALENT_AU = "equivalent_au"
    # Training outside this system covers it.
    EQUIVALENT_OUTSIDE_ACTIVITY = "equivalent_outside_activity"
    # An administrator's decision.
    ADMINISTRATIVE = "administrative"

    @property
    def label(self) -> str:
        """Return the reason as cmi5 writes it."""
        return _REASON_LABELS[self]


_REASON_LABELS = {
    WaiverReason.TESTED_OUT: "Tested Out",
    WaiverReason.EQUIVALENT_AU: "Equivalent AU",
    WaiverReason.EQUIVALENT_OUTSIDE_ACTIVITY: "Equivalent Outside Activity",
    WaiverReason.ADMINISTRATIVE: "Administrative",
}

#: What an exemption covers: ("course", id), ("group", id) or ("package", 0).
ExemptionKey = tuple[Literal["course", "group", "package"], int]


@dataclass(frozen=True, slots=True)
class Exemption:
    """One enrollment is exempt from one item (a course or a group), or from all of it.

    With neither ``course_id`` nor ``group_id`` the whole enrollment is exempt. The
    exempt node counts as satisfied from ``effective_at``; ``granted_by`` and the
    reason name it in explanations. With ``ends_at`` (a waiver valid until a date) it
    lapses then: as of any moment from ``ends_at`` on it no longer counts, exactly as
    if revoked at ``ends_at`` (known from the exemption's own recording).
    """

    exemption_id: int
    reason: WaiverReason
    effective_at: datetime
    course_id: int | None = None
    group_id: int | None = None
    recorded_at: datetime | None = None
    granted_by: str = ""
    note: str = ""
    ends_at: datetime | None = None

    @property
    def known_from(self) -> datetime:
        """Return when the system learnt of the exemption."""
        return self.effective_at if self.recorded_at is None else self.recorded_at

    @property
    def key(self) -> ExemptionKey:
        """Return what the exemption covers."""
        if self.course_id is not None:
            return ("course", self.course_id)
        if self.group_id is not None:
            return ("group", self.group_id)
        return ("package", 0)

    def describe(self) -> str:
        """Return the explanation line: "Exempt — Tested Out, by J. Admin on 2026-03-03."."""
        by = f", by {self.granted_by}" if self.granted_by else ""
        until = f" until {self.ends_at.date().isoformat()}" if self.ends_at is not None else ""
        return f"Exempt — {self.reason.label}{by} on {self.effective_at.date().isoformat()}{until}."

    def lapsed(self, as_of: datetime | None) -> bool:
        """Return whether the exemption has lapsed by ``as_of`` (None: the end of time)."""
        return self.ends_at is not None and (as_of is None or self.ends_at <= as_of)


@dataclass(frozen=True, slots=True)
class ExemptionRevocation:
    """An exemption stops counting from ``effective_at`` on (it is not a correction:
    before that moment the exemption still counted)."""

    exemption_id: int
    effective_at: datetime
    recorded_at: datetime | None = None

    @property
    def known_from(self) -> datetime:
        """Return when the system learnt of the revocation."""
        return self.effective_at if self.recorded_at is None else self.recorded_at


@dataclass(frozen=True, slots=True)
class Equivalence:
    """A completion of course ``source_course_id`` counts for ``target_course_id``.

    Only completions at or after ``starts_at`` count, unless the equivalence is
    ``retroactive`` (or was later applied retroactively by an EquivalenceChange):
    then every completion of the source counts, from its own moment. Both-ways
    equivalences are two of these sharing one id.
    """

    equivalence_id: int
    source_course_id: int
    target_course_id: int
    starts_at: datetime
    retroactive: bool = False
    recorded_at: datetime | None = None
    source_label: str = ""

    @property
    def known_from(self) -> datetime:
        """Return when the system learnt of the equivalence."""
        return self.starts_at if self.recorded_at is None else self.recorded_at


@dataclass(frozen=True, slots=True)
class EquivalenceChange:
    """A later fact about an equivalence: it ends at ``occurred_at`` (completions from
    then on no longer count; credit earned before stays), or it is applied
    retroactively (as known from ``recorded_at`` on, earlier completions count too)."""

    equivalence_id: int
    kind: Literal["end", "retroactive"]
    occurred_at: datetime
    recorded_at: datetime | None = None

    @property
    def known_from(self) -> datetime:
        """Return when the system learnt of the change."""
        return self.occurred_at if self.recorded_at is None else self.recorded_at


def exemptions_in_force(
    exemptions: Iterable[Exemption],
    revocations: Iterable[ExemptionRevocation],
    as_of: datetime | None,
    known_at: datetime | None,
) -> dict[ExemptionKey, Exemption]:
    """Return, per exempted node, the earliest exemption in force as of ``as_of`` as
    known at ``known_at``: recorded by then, effective by then, not lapsed by then (its
    ``ends_at``), and not revoked by a revocation effective by then (and recorded by
    ``known_at``). ``as_of`` None is the end of time: every end has passed."""
    revoked = {
        r.exemption_id
        for r in revocations
        if (known_at is None or r.known_from <= known_at)
        and (as_of is None or r.effective_at <= as_of)
    }
    found: dict[ExemptionKey, Exemption] = {}
    for exemption in exemptions:
        if exemption.exemption_id in revoked:
            continue
        if known_at is not None and exemption.known_from > known_at:
            continue
        if as_of is not None and exemption.effective_at > as_of:
            continue
        if exemption.lapsed(as_of):
            continue
        key = exemption.key
        current = found.get(key)
        if current is None or (exemption.effective_at, exemption.exemption_id) < (
            current.effective_at,
            current.exemption_id,
        ):
            found[key] = exemption
    return found


def next_lapse(exempt: Mapping[ExemptionKey, Exemption], after: datetime) -> datetime | None:
    """Return the earliest end after ``after`` of the exemptions in force ``exempt`` (from
    ``exemptions_in_force``): until then an answer computed at ``after`` stays right."""
    ends = [e.ends_at for e in exempt.values() if e.ends_at is not None and e.ends_at > after]
    return min(ends, default=None)
