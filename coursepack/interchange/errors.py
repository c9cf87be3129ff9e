"""Typed errors of the legacy migration and of package files."""

from coursepack.errors import DomainError, InvalidInput


class LegacySourceError(DomainError):
    """The legacy database cannot be read as the seed's legacy schema."""

    code = "legacy_source_invalid"
    http_status = 422


class MappingInvalid(InvalidInput):
    """The mapping file of implicit groups is not valid."""

    code = "mapping_invalid"


class UnplacedAnomalies(DomainError):
    """The legacy data has rows the migration cannot place and was not told how to."""

    code = "legacy_unplaced_anomalies"


class PackageFileInvalid(InvalidInput):
    """A package file does not follow the published schema, or names what does not exist."""

    code = "package_file_invalid"
