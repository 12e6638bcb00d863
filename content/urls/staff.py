"""Staff pages for the education content, mounted at /staff/content/ (namespace
"content_staff"). FAQ entries and articles share the pages after the edit form."""

from django.urls import path

from content.views import staff

app_name = "content_staff"

urlpatterns = [
    path("", staff.content_index, name="index"),
    path("preview/", staff.markdown_preview, name="markdown-preview"),
    path("faq/", staff.faq_list, name="faq-list"),
    path("faq/new/", staff.faq_new, name="faq-new"),
    path("faq/<uuid:public_id>/", staff.faq_edit, name="faq-edit"),
    path("faq/<uuid:public_id>/move/", staff.faq_move, name="faq-move"),
    path("articles/", staff.article_list, name="article-list"),
    path("articles/new/", staff.article_new, name="article-new"),
    path("articles/<uuid:public_id>/", staff.article_edit, name="article-edit"),
]

for prefix, kind_key in (("faq", "faq"), ("articles", "article")):
    urlpatterns += [
        path(
            f"{prefix}/<uuid:public_id>/{suffix}",
            view,
            {"kind_key": kind_key},
            name=f"{kind_key}-{name}",
        )
        for suffix, view, name in (
            ("preview/", staff.preview, "preview"),
            ("publish/", staff.publish, "publish"),
            ("unpublish/", staff.unpublish, "unpublish"),
            ("revisions/", staff.revisions, "revisions"),
            ("revisions/diff/", staff.diff, "diff"),
            ("revisions/<int:number>/restore/", staff.restore, "restore"),
        )
    ]
