from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data loader (``manage.py load_demo``): a top layer over every domain app."""

    name = "coursepack.demo"
    label = "demo"
