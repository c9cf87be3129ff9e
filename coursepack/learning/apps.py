from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "coursepack.learning"
    label = "learning"
