from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "coursepack.audiences"
    label = "audiences"
    verbose_name = "Audiences"
