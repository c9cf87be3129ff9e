"""The server-rendered pages, namespace ``web``.

Each area keeps its own URL module, included here with one line.
"""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from coursepack.web import (
    equivalences,
    exports,
    jobs,
    lifecycle,
    matrix,
    notifications,
    org_units,
    people_sync,
    records,
    reports,
    tokens,
    webhooks,
)
from coursepack.web.authoring import packages

app_name = "web"

urlpatterns = [
    path("", packages.package_list, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Your own API tokens (everyone signed in).
    path("account/tokens/", tokens.own_tokens, name="own-tokens"),
    path("account/tokens/new/", tokens.create, name="own-token-new"),
    path("account/tokens/<int:token_id>/revoke/", tokens.revoke, name="own-token-revoke"),
    # Authoring: catalog, groups, packages, drafts, publishing, versions, preview.
    path("", include("coursepack.web.authoring.urls")),
    # Operations: enrolment, completions, people, my training.
    path("", include("coursepack.web.operations.urls")),
    # Webhooks (admins): subscriptions, attempts, redelivery.
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/<int:subscription_id>/", webhooks.webhook, name="webhook"),
    path("webhooks/<int:subscription_id>/change/", webhooks.change, name="webhook-change"),
    path("webhooks/<int:subscription_id>/switch/", webhooks.switch, name="webhook-switch"),
    path("webhooks/<int:subscription_id>/secret/", webhooks.rotate, name="webhook-secret"),
    path("webhooks/<int:subscription_id>/delete/", webhooks.delete, name="webhook-delete"),
    path("webhooks/<int:subscription_id>/redeliver/", webhooks.redeliver, name="webhook-redeliver"),
    path("reports/", reports.reports, name="reports"),
    path("reports/versions/", reports.report_versions, name="report-versions"),
    path("reports/learners/count/", reports.report_learner_count, name="report-learner-count"),
    path("reports/<str:kind>.csv", reports.report_csv, name="report-csv"),
    path("reports/report.xlsx", reports.report_xlsx, name="report-xlsx"),
    path("learners/", records.learner_list, name="learners"),
    path("packages/<int:package_id>/standing/", lifecycle.standing, name="standing"),
    path("equivalences/", equivalences.equivalences, name="equivalences"),
    path("equivalences/new/", equivalences.create, name="equivalence-new"),
    path(
        "equivalences/<int:equivalence_id>/<str:kind>/",
        equivalences.change,
        name="equivalence-change",
    ),
    path("packages/<int:package_id>/exceptions/", lifecycle.exceptions, name="exceptions"),
    path(
        "packages/<int:package_id>/exceptions.csv", lifecycle.exceptions_csv, name="exceptions-csv"
    ),
    path(
        "packages/<int:package_id>/exceptions.xlsx",
        lifecycle.exceptions_xlsx,
        name="exceptions-xlsx",
    ),
    path("packages/<int:package_id>/standing.csv", lifecycle.standing_csv, name="standing-csv"),
    path("packages/<int:package_id>/standing.xlsx", lifecycle.standing_xlsx, name="standing-xlsx"),
    path("learners/<int:learner_id>/transcript/", records.transcript, name="transcript"),
    path("audit/", records.audit_log, name="audit"),
    path("jobs/<int:job_id>/", jobs.job_page, name="job"),
    path("exports/", exports.start, name="export-start"),
    path("exports/<int:job_id>/", exports.export_page, name="export"),
    path("exports/<int:job_id>/file", exports.download, name="export-file"),
    path("matrix/", matrix.matrix_view, name="matrix"),
    path("matrix.xlsx", matrix.matrix_xlsx, name="matrix-xlsx"),
    path("team/", matrix.team, name="team"),
    path("packages/<int:package_id>/audience/", matrix.audience, name="audience"),
    path("org-units/", org_units.units, name="org-units"),
    path("org-units/<int:unit_id>/", org_units.unit, name="org-unit"),
    path("people-sync/", people_sync.upload, name="people-sync"),
    path("people-sync/<int:sync_id>/", people_sync.preview, name="people-sync-preview"),
    path("people-sync/<int:sync_id>/apply/", people_sync.apply, name="people-sync-apply"),
    path("audit/verification/", jobs.audit_verification, name="audit-verification"),
    path("packages/<int:package_id>/publish-log/", records.publish_log, name="publish-log"),
    # Reminders and notifications.
    path("reminders/", notifications.reminders, name="reminders"),
    path("reminders/runs/<int:job_id>/", notifications.run, name="reminder-run"),
    path("reminders/templates/", notifications.template_list, name="reminder-templates"),
    path("reminders/templates/<str:kind>/", notifications.template_edit, name="reminder-template"),
    path("reminders/messages/", notifications.message_log, name="reminder-messages"),
    path("packages/<int:package_id>/reminders/", notifications.schedule, name="package-reminders"),
]
