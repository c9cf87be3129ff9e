from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LearningConfig(AppConfig):
    name = "coursepack.learning"
    label = "learning"

    def ready(self) -> None:
        # Publishing (packaging, a lower layer) moves in-flight learners through
        # this hook instead of importing learning.
        from coursepack.learning.api import move_inflight
        from coursepack.packaging.api import register_inflight_mover

        register_inflight_mover(move_inflight)
        post_migrate.connect(_install_summary_triggers, sender=self)


def _install_summary_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from coursepack.learning import summaries

    summaries.install(using=using)
