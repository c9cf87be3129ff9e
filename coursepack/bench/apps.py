from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "coursepack.bench"
    label = "bench"
