"""The people sync: upsert people from an HR file by external id (ADR 0024).

1. ``plan_people_sync`` reads the file against the database and says what it
   would do — creates, updates (with each changed field), deactivations, and
   each row's problems — writing nothing (the dry run).
2. ``stage_people_sync`` stores the file with that preview; the people-sync job
   (jobs.api) then calls ``prepare_people_sync`` (the plan, computed again at
   the start of the run, stored as actions), ``apply_people_sync_chunk`` for each
   chunk of actions (one transaction each, audited row by row) and
   ``finish_people_sync``.

Semantics: the file is authoritative for the columns it has (a blank cell
clears the field), columns it lacks are left alone. A person is never deleted:
``active=false`` rows and, in a full file, active people with an external id who
are absent from it are deactivated. Org units must exist (created in Coursepack
or through the API); a row naming an unknown or inactive unit is an error row.
Error rows are skipped; every other row is applied.

The reading and the plan are in ``sync.plan`` (nothing written), staging and
applying in ``sync.apply``; every public name is importable from here as well.
"""

from __future__ import annotations

from coursepack.organisation.sync.apply import (
    SyncChanges,
    apply_people_sync_chunk,
    finish_people_sync,
    get_people_sync,
    mark_people_sync_applying,
    prepare_people_sync,
    stage_people_sync,
    stored_rows,
    sync_changes,
)
from coursepack.organisation.sync.plan import (
    COLUMNS,
    FIELDS,
    MAX_ROWS,
    PeopleSyncPlan,
    SyncRow,
    parse_people_csv,
    plan_people_sync,
    rows_from_dicts,
)

__all__ = [
    "COLUMNS",
    "FIELDS",
    "MAX_ROWS",
    "PeopleSyncPlan",
    "SyncChanges",
    "SyncRow",
    "apply_people_sync_chunk",
    "finish_people_sync",
    "get_people_sync",
    "mark_people_sync_applying",
    "parse_people_csv",
    "plan_people_sync",
    "prepare_people_sync",
    "rows_from_dicts",
    "stage_people_sync",
    "stored_rows",
    "sync_changes",
]
