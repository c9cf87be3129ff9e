from django.apps import AppConfig


class InterchangeConfig(AppConfig):
    name = "coursepack.interchange"
    label = "interchange"
    verbose_name = "Interchange: legacy migration and package files"
