from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "coursepack.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Sign-in, sign-out, failed sign-in and lockout audit records.
        from coursepack.accounts import signals  # noqa: F401
