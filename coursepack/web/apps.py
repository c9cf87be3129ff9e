from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "coursepack.web"
    label = "web"
