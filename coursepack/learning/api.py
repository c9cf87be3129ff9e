"""The write path of enrollments and completion events: learning's public surface.

Each public function is one transaction and appends to the audit log. Stored
enrollment statuses are a cache of the requirement engine: every write that can
change them recomputes them in the same transaction. The functions live in modules
by concept (enrolment, completions, moves, rebuild, the lifecycle services; the
cache itself in ``status_cache``); import them from here.
"""

from __future__ import annotations

from coursepack.learning.completions import (
    ImportedCompletion,
    ImportResult,
    PreparedCompletion,
    RecordResult,
    commit_completion,
    import_completions,
    late_horizon,
    prepare_completion,
    record_completion,
    recorded_late,
    void_event,
)
from coursepack.learning.enrolment import BulkEnrollResult, bulk_enroll, enroll, withdraw
from coursepack.learning.lifecycle_services import (
    EquivalenceImpact,
    apply_equivalence_retroactively,
    create_equivalence,
    end_equivalence,
    equivalence_impact,
    exempt,
    extend_due_date,
    open_certification_periods,
    open_next_period,
    revoke_exemption,
)
from coursepack.learning.moves import (
    POLICY_MOVES,
    ImpactPreview,
    InFlightPolicy,
    MoveChunk,
    PolicyImpact,
    count_inflight,
    move_inflight,
    move_inflight_chunk,
    preview_publish,
)
from coursepack.learning.rebuild import (
    LEARNERS_PER_BATCH,
    RebuildReport,
    rebuild_statuses,
    settle_lapsed_exemptions,
)
from coursepack.learning.summaries import deferred as deferred_summaries
from coursepack.learning.write_support import refresh_statistics
from coursepack.table_statistics import Resampler

__all__ = [
    "LEARNERS_PER_BATCH",
    "POLICY_MOVES",
    "BulkEnrollResult",
    "EquivalenceImpact",
    "ImpactPreview",
    "ImportResult",
    "ImportedCompletion",
    "InFlightPolicy",
    "MoveChunk",
    "PolicyImpact",
    "PreparedCompletion",
    "RebuildReport",
    "RecordResult",
    "Resampler",
    "apply_equivalence_retroactively",
    "bulk_enroll",
    "commit_completion",
    "count_inflight",
    "create_equivalence",
    "deferred_summaries",
    "end_equivalence",
    "enroll",
    "equivalence_impact",
    "exempt",
    "extend_due_date",
    "import_completions",
    "late_horizon",
    "move_inflight",
    "move_inflight_chunk",
    "open_certification_periods",
    "open_next_period",
    "prepare_completion",
    "preview_publish",
    "rebuild_statuses",
    "record_completion",
    "recorded_late",
    "refresh_statistics",
    "revoke_exemption",
    "settle_lapsed_exemptions",
    "void_event",
    "withdraw",
]
