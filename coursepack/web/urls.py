from django.contrib.auth import views as auth_views
from django.urls import include, path

from coursepack.web import records, reports, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("packages/<int:package_id>/", views.package_detail, name="package"),
    path("reports/", reports.reports, name="reports"),
    path("reports/<str:kind>.csv", reports.report_csv, name="report-csv"),
    path("reports/report.xlsx", reports.report_xlsx, name="report-xlsx"),
    path("learners/", records.learner_list, name="learners"),
    path("learners/<int:learner_id>/transcript/", records.transcript, name="transcript"),
    path("audit/", records.audit_log, name="audit"),
    path("packages/<int:package_id>/publish-log/", records.publish_log, name="publish-log"),
    path("", include("coursepack.web.operations.urls")),
]
