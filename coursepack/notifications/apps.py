from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "coursepack.notifications"
    label = "notifications"
