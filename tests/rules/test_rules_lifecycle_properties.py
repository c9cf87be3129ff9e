"""Property-based tests of exemptions, equivalences and counting windows against the
brute-force oracle, and of the date-driven lifecycle functions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from coursepack.rules import (
    EnrollmentStatus,
    Equivalence,
    EquivalenceChange,
    Evaluation,
    Exemption,
    ExemptionRevocation,
    Extension,
    LearnerEvent,
    NodeResult,
    RequirementTree,
    StatusRule,
    WaiverReason,
    course_facts,
    course_ids,
    due_in_force,
    evaluate,
    exemptions_in_force,
)
from tests.rules import rules_oracle as oracle
from tests.rules.rules_strategies import BASE, at, histories, known_moments, moments, trees

THOROUGH = settings(max_examples=200, deadline=None)
FAST = settings(max_examples=80, deadline=None)

_DELAY = st.sampled_from([0, 0, 1, 5, 12])


@dataclass(frozen=True)
class Facts:
    """A learner's lifecycle facts besides completion events."""

    exemptions: list[Exemption] = field(default_factory=list)
    revocations: list[ExemptionRevocation] = field(default_factory=list)
    equivalences: list[Equivalence] = field(default_factory=list)
    changes: list[EquivalenceChange] = field(default_factory=list)
    counts_from: datetime | None = None

    def kwargs(self) -> dict[str, object]:
        return {
            "exemptions": self.exemptions,
            "revocations": self.revocations,
            "equivalences": self.equivalences,
            "equivalence_changes": self.changes,
            "counts_from": self.counts_from,
        }

    def times(self) -> list[datetime]:
        return sorted(
            {e.effective_at for e in self.exemptions}
            | {e.ends_at for e in self.exemptions if e.ends_at is not None}
            | {r.effective_at for r in self.revocations}
            | {e.starts_at for e in self.equivalences}
            | {c.occurred_at for c in self.changes}
        )


@st.composite
def exemptions(draw: st.DrawFn, first_id: int = 1) -> list[Exemption]:
    found = []
    for exemption_id in range(first_id, first_id + draw(st.integers(0, 3))):
        target = draw(st.sampled_from(["course", "group", "package"]))
        effective = at(draw(st.integers(0, 30)))
        lasts = draw(st.none() | st.integers(0, 25))
        found.append(
            Exemption(
                exemption_id=exemption_id,
                reason=draw(st.sampled_from(list(WaiverReason))),
                effective_at=effective,
                course_id=draw(st.integers(1, 7)) if target == "course" else None,
                group_id=draw(st.integers(1, 5)) if target == "group" else None,
                recorded_at=effective + timedelta(minutes=draw(_DELAY)),
                granted_by="J. Admin",
                ends_at=None if lasts is None else effective + timedelta(minutes=lasts),
            )
        )
    return found


@st.composite
def lifecycle_facts(
    draw: st.DrawFn,
    tree: RequirementTree | None = None,
    events: list[LearnerEvent] | None = None,
) -> Facts:
    """Draw exemptions, revocations, equivalences and a counting window; given a tree and
    events, equivalences mostly lead from a course the learner has events on to a course
    of the tree, and start amid the events (where a wrong window would show)."""
    granted = draw(exemptions())
    sources = sorted({e.course_id for e in events or []}) or list(range(1, 8))
    targets = sorted(course_ids(tree)) if tree is not None else list(range(1, 7))
    revocations = []
    for exemption in granted:
        if draw(st.booleans()):
            effective = exemption.effective_at + timedelta(minutes=draw(st.integers(0, 20)))
            revocations.append(
                ExemptionRevocation(
                    exemption.exemption_id, effective, effective + timedelta(minutes=draw(_DELAY))
                )
            )
    equivalences = []
    changes = []
    for equivalence_id in range(1, 1 + draw(st.integers(0, 2))):
        source = draw(st.sampled_from(sources) | st.integers(1, 7))
        target = draw(st.sampled_from(targets) | st.integers(1, 6))
        if target == source:
            continue
        starts = at(draw(st.integers(0, 30)))
        equivalences.append(
            Equivalence(
                equivalence_id,
                source,
                target,
                starts,
                retroactive=draw(st.booleans()),
                recorded_at=starts + timedelta(minutes=draw(_DELAY)),
            )
        )
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["end", "retroactive"]))
            moment = starts + timedelta(minutes=draw(st.integers(0, 20)))
            changes.append(
                EquivalenceChange(
                    equivalence_id, kind, moment, moment + timedelta(minutes=draw(_DELAY))
                )
            )
    counts_from = draw(st.none() | st.sampled_from([at(5), at(15)]))
    return Facts(granted, revocations, equivalences, changes, counts_from)


def assert_matches_oracle(
    tree: RequirementTree,
    events: list[LearnerEvent],
    facts: Facts,
    result: Evaluation,
    as_of: datetime | None,
    known_at: datetime | None,
) -> None:
    effective = oracle.lifecycle_effective_events(
        events,
        as_of,
        known_at,
        counts_from=facts.counts_from,
        equivalences=facts.equivalences,
        changes=facts.changes,
    )
    exempt = oracle.exemption_keys_in_force(facts.exemptions, facts.revocations, as_of, known_at)
    for path, node in oracle.walk(tree):
        got = result.node(path)
        assert got.satisfied_at == oracle.satisfied_at_exempt(node, effective, exempt), path
    expected_done = result.root.satisfied_at is not None
    assert (result.status == EnrollmentStatus.COMPLETED) == expected_done


@THOROUGH
@given(tree=trees(), events=histories(), data=st.data())
def test_lifecycle_verdicts_match_the_oracle(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Every node's satisfied_at is the oracle's, with exemptions, revocations,
    equivalences and a counting window, on both timelines."""
    facts = data.draw(lifecycle_facts(tree, events))
    as_of = data.draw(st.sampled_from(moments(events) + facts.times()))
    known_at = data.draw(st.sampled_from(known_moments(events) + facts.times()))
    result = evaluate(tree, events, as_of, known_at, **facts.kwargs())  # type: ignore[arg-type]
    assert_matches_oracle(tree, events, facts, result, as_of, known_at)


def prefix(events: list[LearnerEvent], facts: Facts, as_of: datetime) -> tuple[list, Facts]:
    """Return the facts that are true from a moment at or before ``as_of`` (voids and
    equivalences, which speak about other moments, are kept). An exemption's end is a
    fact of its own moment: one that comes after ``as_of`` has not happened yet."""
    kept = [e for e in events if e.occurred_at <= as_of or e.kind == "void"]
    return kept, replace(
        facts,
        exemptions=[
            e if e.ends_at is None or e.ends_at <= as_of else replace(e, ends_at=None)
            for e in facts.exemptions
            if e.effective_at <= as_of
        ],
        revocations=[r for r in facts.revocations if r.effective_at <= as_of],
        changes=[c for c in facts.changes if c.kind == "retroactive" or c.occurred_at <= as_of],
    )


@FAST
@given(tree=trees(), events=histories(), data=st.data())
def test_as_of_is_the_replay_of_the_facts_true_by_then(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Evaluating as of t equals evaluating (as of now) only the facts true by t."""
    facts = data.draw(lifecycle_facts(tree, events))
    as_of = data.draw(st.sampled_from([t for t in moments(events) if t] + facts.times() or [BASE]))
    kept, kept_facts = prefix(events, facts, as_of)
    full = evaluate(tree, events, as_of, **facts.kwargs())  # type: ignore[arg-type]
    replayed = evaluate(tree, kept, None, **kept_facts.kwargs())  # type: ignore[arg-type]
    assert without_ends(full) == without_ends(replayed)


def _node_without_ends(node: NodeResult) -> NodeResult:
    exemption = node.exemption
    explanation = node.explanation
    if exemption is not None and exemption.ends_at is not None:
        explanation = explanation.replace(f" until {exemption.ends_at.date().isoformat()}", "")
        exemption = replace(exemption, ends_at=None)
    return replace(
        node,
        exemption=exemption,
        explanation=explanation,
        children=tuple(_node_without_ends(c) for c in node.children),
    )


def without_ends(evaluation: Evaluation) -> Evaluation:
    """Return the evaluation with the (planned) ends of the exemptions it names dropped: a
    replay of the facts true by t knows an exemption whose end is still to come, but not
    that end."""
    whole = evaluation.exemption
    return replace(
        evaluation,
        root=_node_without_ends(evaluation.root),
        exemption=None if whole is None else replace(whole, ends_at=None),
    )


@FAST
@given(tree=trees(), events=histories(), data=st.data())
def test_the_order_of_the_facts_does_not_matter(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Any permutation of every list of facts gives the same evaluation."""
    facts = data.draw(lifecycle_facts(tree, events))
    shuffled = Facts(
        data.draw(st.permutations(facts.exemptions)),
        data.draw(st.permutations(facts.revocations)),
        data.draw(st.permutations(facts.equivalences)),
        data.draw(st.permutations(facts.changes)),
        facts.counts_from,
    )
    as_of = data.draw(st.sampled_from(moments(events) + facts.times()))
    known_at = data.draw(st.sampled_from(known_moments(events) + facts.times()))
    got = evaluate(tree, data.draw(st.permutations(events)), as_of, known_at, **shuffled.kwargs())  # type: ignore[arg-type]
    assert got == evaluate(tree, events, as_of, known_at, **facts.kwargs())  # type: ignore[arg-type]


@FAST
@given(
    tree=trees(),
    events=histories(),
    more=exemptions(first_id=50),
    data=st.data(),
)
def test_an_exemption_never_makes_a_learner_less_complete(
    tree: RequirementTree,
    events: list[LearnerEvent],
    more: list[Exemption],
    data: st.DataObject,
) -> None:
    """Adding exemptions keeps every satisfied node satisfied, no later than before."""
    facts = data.draw(lifecycle_facts(tree, events))
    as_of = data.draw(st.sampled_from(moments(events) + facts.times()))
    before = evaluate(tree, events, as_of, **facts.kwargs())  # type: ignore[arg-type]
    more_facts = replace(facts, exemptions=facts.exemptions + more)
    after = evaluate(tree, events, as_of, **more_facts.kwargs())  # type: ignore[arg-type]
    for path, _ in oracle.walk(tree):
        old = before.node(path).satisfied_at
        new = after.node(path).satisfied_at
        if old is not None:
            assert new is not None and new <= old, path
    if before.status == EnrollmentStatus.COMPLETED:
        assert after.status == EnrollmentStatus.COMPLETED


@THOROUGH
@given(tree=trees(), events=histories(), data=st.data())
def test_revoking_an_exemption_restores_the_previous_answer(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """From a revocation's effective moment (as known from its recording), the answer is
    the answer without the exemption; before it, the answer with it."""
    facts = data.draw(lifecycle_facts(tree, events))
    extra = data.draw(exemptions(first_id=90))
    if not extra:
        return
    target = extra[0]
    effective = target.effective_at + timedelta(minutes=data.draw(st.integers(0, 20)))
    recorded = effective + timedelta(minutes=data.draw(_DELAY))
    revocation = ExemptionRevocation(target.exemption_id, effective, recorded)
    with_both = replace(
        facts,
        exemptions=[*facts.exemptions, target],
        revocations=[*facts.revocations, revocation],
    )
    with_exemption = replace(facts, exemptions=[*facts.exemptions, target])
    for as_of in [*moments(events), *with_both.times()]:
        got = evaluate(tree, events, as_of, recorded, **with_both.kwargs())  # type: ignore[arg-type]
        if as_of is None or as_of >= effective:
            expected = evaluate(tree, events, as_of, recorded, **facts.kwargs())  # type: ignore[arg-type]
        else:
            expected = evaluate(tree, events, as_of, recorded, **with_exemption.kwargs())  # type: ignore[arg-type]
        assert got == expected
        earlier = recorded - timedelta(microseconds=1)
        assert evaluate(tree, events, as_of, earlier, **with_both.kwargs()) == evaluate(  # type: ignore[arg-type]
            tree,
            events,
            as_of,
            earlier,
            **with_exemption.kwargs(),  # type: ignore[arg-type]
        )


@THOROUGH
@given(tree=trees(), events=histories(), data=st.data())
def test_an_exemption_lapses_at_its_end(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """An exemption valid until e counts as one with no end as of any moment before e, and
    as no exemption at all (nor a revocation) from e on, as known from its recording; it
    is the same as revoking it at e."""
    facts = data.draw(lifecycle_facts(tree, events))
    extra = data.draw(exemptions(first_id=90))
    if not extra:
        return
    target = extra[0]
    ends = target.effective_at + timedelta(minutes=data.draw(st.integers(0, 20)))
    lapsing = replace(target, ends_at=ends)
    forever = replace(target, ends_at=None)
    with_lapsing = replace(facts, exemptions=[*facts.exemptions, lapsing])
    with_forever = replace(facts, exemptions=[*facts.exemptions, forever])
    revoked_then = replace(
        facts,
        exemptions=[*facts.exemptions, forever],
        revocations=[
            *facts.revocations,
            ExemptionRevocation(target.exemption_id, ends, target.known_from),
        ],
    )
    known_at = data.draw(st.none() | st.sampled_from(known_moments(events) + with_lapsing.times()))
    for as_of in [*moments(events), *with_lapsing.times(), ends - timedelta(microseconds=1)]:
        got = evaluate(tree, events, as_of, known_at, **with_lapsing.kwargs())  # type: ignore[arg-type]
        if as_of is None or as_of >= ends:
            expected = evaluate(tree, events, as_of, known_at, **facts.kwargs())  # type: ignore[arg-type]
        else:
            expected = evaluate(tree, events, as_of, known_at, **with_forever.kwargs())  # type: ignore[arg-type]
        assert without_ends(got) == without_ends(expected), as_of
        assert got.status == evaluate(tree, events, as_of, known_at, **revoked_then.kwargs()).status  # type: ignore[arg-type]
        for path, _ in oracle.walk(tree):
            assert (
                got.node(path).satisfied_at
                == evaluate(tree, events, as_of, known_at, **revoked_then.kwargs())  # type: ignore[arg-type]
                .node(path)
                .satisfied_at
            ), path


@THOROUGH
@given(tree=trees(), events=histories(), data=st.data())
def test_the_status_cache_rule_agrees_with_evaluate(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """StatusRule's four numbers equal evaluate's, with every lifecycle fact."""
    facts = data.draw(lifecycle_facts(tree, events))
    as_of = data.draw(st.sampled_from(moments(events) + facts.times()))
    known_at = data.draw(st.sampled_from(known_moments(events) + facts.times()))
    since = data.draw(st.none() | st.sampled_from([at(10), at(40)]))
    full = evaluate(tree, events, as_of, known_at, on_version_since=since, **facts.kwargs())  # type: ignore[arg-type]
    summary = StatusRule(tree).summarize(
        course_facts(
            events,
            as_of,
            known_at,
            counts_from=facts.counts_from,
            equivalences=facts.equivalences,
            equivalence_changes=facts.changes,
        ),
        since,
        exemptions_in_force(facts.exemptions, facts.revocations, as_of, known_at),
    )
    assert summary.status == full.status
    assert summary.completed_at == full.completed_at
    assert (summary.done, summary.needed) == (full.root.done, full.root.needed)


@FAST
@given(data=st.data())
def test_the_due_date_in_force_is_the_latest_extension_by_then(data: st.DataObject) -> None:
    """As of t, as known at r: the latest extension effective by t and recorded by r, else
    the initial date; recording more extensions after r changes nothing."""
    initial = at(30)
    extensions = [
        Extension(
            i,
            at(data.draw(st.integers(20, 60))),
            at(m := data.draw(st.integers(0, 40))),
            at(m + data.draw(_DELAY)),
        )
        for i in range(1, data.draw(st.integers(0, 4)) + 1)
    ]
    as_of = at(data.draw(st.integers(-1, 45)))
    known_at = at(data.draw(st.integers(-1, 50)))
    got, used = due_in_force(initial, extensions, as_of, known_at)
    in_force = [e for e in extensions if e.effective_at <= as_of and e.known_from <= known_at]
    if not in_force:
        assert (got, used) == (initial, None)
    else:
        latest = max(in_force, key=lambda e: (e.effective_at, e.extension_id))
        assert (got, used) == (latest.due_at, latest)
    later = Extension(99, at(90), at(0), known_at + timedelta(seconds=1))
    assert due_in_force(initial, [*extensions, later], as_of, known_at) == (got, used)
