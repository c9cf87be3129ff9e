"""Typed errors of the organisation: org units, placements, the people sync."""

from coursepack.errors import DomainError, NotFound


class OrgUnitNotFound(NotFound):
    code = "org_unit_not_found"


class PersonNotFound(NotFound):
    code = "person_not_found"


class OrgUnitCodeTaken(DomainError):
    """Another org unit already has this code."""

    code = "org_unit_code_taken"


class OrgUnitCycle(DomainError):
    """The move would put a unit under itself or one of its own units."""

    code = "org_unit_cycle"


class OrgUnitInUse(DomainError):
    """The unit still has active people or active units below it."""

    code = "org_unit_in_use"


class InvalidPeopleFile(DomainError):
    """The people file cannot be read at all (no header, wrong columns, not UTF-8)."""

    code = "invalid_people_file"
    http_status = 422


class PeopleSyncNotFound(NotFound):
    code = "people_sync_not_found"


class PeopleSyncNotStaged(DomainError):
    """The people sync was applied (or is being applied) already."""

    code = "people_sync_not_staged"
