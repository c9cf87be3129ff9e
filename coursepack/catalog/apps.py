from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "coursepack.catalog"
    label = "catalog"
    verbose_name = "Course catalog"
