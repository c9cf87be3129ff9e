"""The operations pages' URLs (included by web.urls, so named ``web:…``)."""

from django.urls import path

from coursepack.web.operations import enrolment, lifecycle, people, progress

urlpatterns = [
    path("my-training/", progress.my_training, name="my-training"),
    path("enrol/", enrolment.enrol, name="enrol"),
    path("enrol/search/", enrolment.enrol_search, name="enrol-search"),
    path("enrol/confirm/", enrolment.enrol_confirm, name="enrol-confirm"),
    path(
        "versions/<int:version_id>/enrollments/",
        enrolment.version_enrollments,
        name="version-enrollments",
    ),
    path("enrollments/<int:enrollment_id>/", progress.progress, name="progress"),
    path("enrollments/<int:enrollment_id>/withdraw/", enrolment.withdraw, name="withdraw"),
    path(
        "enrollments/<int:enrollment_id>/record/",
        progress.record_completion,
        name="record-completion",
    ),
    path("enrollments/<int:enrollment_id>/extend/", lifecycle.extend_due, name="extend-due"),
    path("enrollments/<int:enrollment_id>/exempt/", lifecycle.exempt, name="exempt"),
    path(
        "enrollments/<int:enrollment_id>/exemptions/<int:exemption_id>/revoke/",
        lifecycle.revoke_exemption,
        name="revoke-exemption",
    ),
    path("packages/<int:package_id>/standing/extend/", lifecycle.bulk_extend, name="bulk-extend"),
    path("packages/<int:package_id>/standing/exempt/", lifecycle.bulk_exempt, name="bulk-exempt"),
    path("events/<int:event_id>/void/", progress.void_event, name="void-event"),
    path("people/", people.people, name="people"),
    path("people/new/", people.create_person, name="person-new"),
    path("people/<int:user_id>/", people.person, name="person"),
    path("people/<int:user_id>/role/", people.change_role, name="person-role"),
    path("people/<int:user_id>/deactivate/", people.deactivate, name="person-deactivate"),
    path("people/<int:user_id>/reactivate/", people.reactivate, name="person-reactivate"),
    path(
        "people/<int:user_id>/reset-password/", people.reset_password, name="person-reset-password"
    ),
    path("people/<int:user_id>/tokens/new/", people.issue_token, name="person-issue-token"),
    path(
        "people/<int:user_id>/tokens/<int:token_id>/revoke/",
        people.revoke_token,
        name="person-revoke-token",
    ),
    path("set-password/<str:uidb64>/<str:token>/", people.set_password, name="set-password"),
]
