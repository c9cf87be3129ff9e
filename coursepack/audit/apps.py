from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "coursepack.audit"
    label = "audit"

    def ready(self) -> None:
        from coursepack import db_guards

        connection_created.connect(db_guards.register_sqlite_functions)
        post_migrate.connect(_install_guards, sender=self)


def _install_guards(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from coursepack import db_guards

    db_guards.install(using=using)
