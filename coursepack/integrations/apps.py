from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "coursepack.integrations"
    label = "integrations"
