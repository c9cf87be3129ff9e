"""Reads of the lifecycle facts, as the engine's values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from coursepack import rules
from coursepack.learning.lifecycle_models import (
    DueExtension,
    Equivalence,
    EquivalenceChange,
    Exemption,
)
from coursepack.statements import ids_in

__all__ = ["EnrollmentFacts", "EquivalenceFacts", "enrollment_facts", "equivalence_facts"]


@dataclass
class EnrollmentFacts:
    """One enrollment's extensions, exemptions and revocations."""

    extensions: list[rules.Extension] = field(default_factory=list)
    exemptions: list[rules.Exemption] = field(default_factory=list)
    revocations: list[rules.ExemptionRevocation] = field(default_factory=list)


_NONE = EnrollmentFacts()


@dataclass(frozen=True)
class EquivalenceFacts:
    """Every equivalence (both-ways ones as two) and every change to them."""

    equivalences: tuple[rules.Equivalence, ...] = ()
    changes: tuple[rules.EquivalenceChange, ...] = ()

    def sources_for(self, course_ids: Iterable[int]) -> set[int]:
        """Return the courses whose completions may count for these courses."""
        wanted = set(course_ids)
        return {e.source_course_id for e in self.equivalences if e.target_course_id in wanted}

    def targets_of(self, course_id: int) -> set[int]:
        """Return the courses a completion of ``course_id`` may count for."""
        return {e.target_course_id for e in self.equivalences if e.source_course_id == course_id}


def _name(user: object) -> str:
    if user is None:
        return ""
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full or getattr(user, "username", ""))


def enrollment_facts(
    enrollment_ids: Iterable[int], *, names: bool = False
) -> dict[int, EnrollmentFacts]:
    """Return the lifecycle facts of these enrollments (two queries). With ``names`` the
    people who granted them are named (for explanations; one join more)."""
    ids = list(enrollment_ids)
    found: dict[int, EnrollmentFacts] = defaultdict(EnrollmentFacts)
    if not ids:
        return found
    extensions = DueExtension.objects.filter(ids_in("enrollment_id", ids)).order_by()
    exemptions = (
        Exemption.objects.filter(ids_in("enrollment_id", ids))
        .select_related("revocation")
        .order_by()
    )
    if names:
        extensions = extensions.select_related("recorded_by")
        exemptions = exemptions.select_related("recorded_by")
    for x in extensions:
        found[x.enrollment_id].extensions.append(
            rules.Extension(
                x.pk,
                x.due_at,
                x.effective_at,
                x.recorded_at,
                _name(x.recorded_by) if names else "",
                x.reason,
            )
        )
    for e in exemptions:
        facts = found[e.enrollment_id]
        facts.exemptions.append(
            rules.Exemption(
                exemption_id=e.pk,
                reason=rules.WaiverReason(e.reason),
                effective_at=e.effective_at,
                course_id=e.course_id,
                group_id=e.group_id,
                recorded_at=e.recorded_at,
                granted_by=_name(e.recorded_by) if names else "",
                note=e.note,
                ends_at=e.ends_at,
            )
        )
        revocation = getattr(e, "revocation", None)
        if revocation is not None:
            facts.revocations.append(
                rules.ExemptionRevocation(e.pk, revocation.effective_at, revocation.recorded_at)
            )
    return found


def facts_of(found: dict[int, EnrollmentFacts], enrollment_id: int) -> EnrollmentFacts:
    """Return one enrollment's facts from ``enrollment_facts`` (empty when it has none)."""
    return found.get(enrollment_id, _NONE)


def equivalence_facts(*, labels: bool = False) -> EquivalenceFacts:
    """Return every equivalence and change (two queries; the table is small)."""
    equivalences: list[rules.Equivalence] = []
    rows = Equivalence.objects.order_by("id")
    if labels:
        rows = rows.select_related("source", "target")
    for eq in rows:
        pairs = [(eq.source_id, eq.target_id, eq.source if labels else None)]
        if eq.both_ways:
            pairs.append((eq.target_id, eq.source_id, eq.target if labels else None))
        for source_id, target_id, source in pairs:
            equivalences.append(
                rules.Equivalence(
                    eq.pk,
                    source_id,
                    target_id,
                    eq.starts_at,
                    retroactive=eq.retroactive,
                    recorded_at=eq.recorded_at,
                    source_label=getattr(source, "name", ""),
                )
            )
    if not equivalences:
        return EquivalenceFacts()
    changes = tuple(
        rules.EquivalenceChange(c.equivalence_id, c.kind, c.occurred_at, c.recorded_at)  # type: ignore[arg-type]
        for c in EquivalenceChange.objects.order_by("id")
    )
    return EquivalenceFacts(tuple(equivalences), changes)
