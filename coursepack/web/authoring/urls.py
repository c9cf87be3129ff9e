"""URLs of the authoring pages (included by ``coursepack.web.urls``, namespace ``web``)."""

from django.urls import path

from coursepack.web.authoring import catalog_pages, editor, groups, packages, publishing

urlpatterns = [
    # catalog
    path("catalog/", catalog_pages.course_list, name="catalog"),
    path("catalog/new/", catalog_pages.course_create, name="course-new"),
    path("catalog/<int:course_id>/", catalog_pages.course_edit, name="course"),
    path("catalog/<int:course_id>/status/", catalog_pages.course_status, name="course-status"),
    path("catalog/<int:course_id>/delete/", catalog_pages.course_delete, name="course-delete"),
    # groups
    path("groups/", groups.group_list, name="groups"),
    path("groups/new/", groups.group_create, name="group-new"),
    path("groups/<int:group_id>/", groups.group_page, name="group"),
    path("groups/<int:group_id>/new-draft/", groups.group_new_draft, name="group-new-draft"),
    path(
        "group-versions/<int:group_version_id>/publish/",
        publishing.publish_group,
        name="group-publish",
    ),
    path(
        "group-versions/<int:group_version_id>/discard/",
        groups.group_discard,
        name="group-discard",
    ),
    # packages and versions
    path("packages/new/", packages.package_create, name="package-new"),
    path("packages/<int:package_id>/", packages.package_page, name="package"),
    path("packages/<int:package_id>/new-version/", packages.new_version, name="new-version"),
    path("packages/<int:package_id>/status/", packages.package_status, name="package-status"),
    path("packages/<int:package_id>/delete/", packages.package_delete, name="package-delete"),
    path("packages/<int:package_id>/compare/", publishing.compare, name="compare"),
    path("versions/<int:version_id>/publish/", publishing.publish, name="publish"),
    path("versions/<int:version_id>/discard/", packages.discard_draft, name="discard-draft"),
    path("versions/<int:version_id>/preview/", publishing.preview, name="preview"),
    # the draft editor (package and group drafts)
    path("drafts/<str:kind>/<int:draft_id>/", editor.draft, name="draft"),
    path("drafts/<str:kind>/<int:draft_id>/details/", editor.draft_details, name="draft-details"),
    path("drafts/<str:kind>/<int:draft_id>/add/", editor.draft_add, name="draft-add"),
    path("drafts/<str:kind>/<int:draft_id>/search/", editor.draft_search, name="draft-search"),
    path(
        "drafts/<str:kind>/<int:draft_id>/items/<int:item_id>/",
        editor.draft_item,
        name="draft-item",
    ),
]
