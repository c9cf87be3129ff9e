from django.apps import AppConfig


class PackagingConfig(AppConfig):
    name = "coursepack.packaging"
    label = "packaging"
