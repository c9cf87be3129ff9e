from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "coursepack.learning"
    label = "learning"

    def ready(self) -> None:
        # Publishing (packaging, a lower layer) moves in-flight learners through
        # this hook instead of importing learning.
        from coursepack.learning.api import move_inflight
        from coursepack.packaging.api import register_inflight_mover

        register_inflight_mover(move_inflight)
