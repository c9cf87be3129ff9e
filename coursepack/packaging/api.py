"""The write path of groups, packages and versions: the public surface of packaging.

Every function here is one transaction: it checks its input and the business
rules first, then writes, then appends to the audit log with the same
timestamp. Refusals raise the typed errors of ``packaging.errors``.

The code lives in ``packaging.services`` by concept — ``groups``, ``packages``,
``versions``, ``publishing`` — and callers import it from here.
"""

from __future__ import annotations

from coursepack.packaging.services.groups import (
    add_group_item,
    create_group,
    discard_group_draft,
    move_group_item,
    new_group_draft,
    publish_group_version,
    remove_group_item,
    set_group_item_required,
    update_group_draft,
)
from coursepack.packaging.services.lifecycle import set_version_lifecycle
from coursepack.packaging.services.packages import (
    create_package,
    delete_package,
    reinstate_package,
    retire_package,
    update_package,
)
from coursepack.packaging.services.publishing import (
    InflightMover,
    InFlightPolicyName,
    PublishOutcome,
    PublishProblem,
    located_publish_problems,
    publish_problems,
    publish_version,
    register_inflight_mover,
    settle_package,
)
from coursepack.packaging.services.versions import (
    add_item,
    create_draft_from,
    discard_draft,
    move_item,
    remove_item,
    set_item_required,
    update_draft,
    use_latest_group_version,
)

__all__ = [
    "InFlightPolicyName",
    "InflightMover",
    "PublishOutcome",
    "PublishProblem",
    "add_group_item",
    "add_item",
    "create_draft_from",
    "create_group",
    "create_package",
    "delete_package",
    "discard_draft",
    "discard_group_draft",
    "located_publish_problems",
    "move_group_item",
    "move_item",
    "new_group_draft",
    "publish_group_version",
    "publish_problems",
    "publish_version",
    "register_inflight_mover",
    "reinstate_package",
    "remove_group_item",
    "remove_item",
    "retire_package",
    "set_group_item_required",
    "set_item_required",
    "set_version_lifecycle",
    "settle_package",
    "update_draft",
    "update_group_draft",
    "update_package",
    "use_latest_group_version",
]
