from django.apps import AppConfig


class OrganisationConfig(AppConfig):
    name = "coursepack.organisation"
    label = "organisation"
    verbose_name = "Organisation"
