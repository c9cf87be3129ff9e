from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "coursepack.jobs"
    label = "jobs"
