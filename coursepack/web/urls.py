from django.urls import path

from coursepack.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("packages/<int:package_id>/", views.package_detail, name="package"),
]
