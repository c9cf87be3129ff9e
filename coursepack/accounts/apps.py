from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "coursepack.accounts"
    label = "accounts"
