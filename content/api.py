"""The education content through the API, under /api/v1/content/.

Public, without signing in: the published FAQ (``faq/``) and articles (``articles/``,
``articles/<slug>/``; an earlier slug answers 301 to the current one). Drafts and
scheduled content whose time has not come are not there (404).

Editing (EDIT_CONTENT: clinic admins and content editors), under ``editor/``: list every
entry or article with its state, create one, save a new revision, publish (now or at a
future ``publish_at``) and unpublish. Every rule is in ``content.services``, which audits
every write.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponsePermanentRedirect
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.errors import (
    ERRORS_404,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    field_errors,
    refused,
)
from clinic.api.fields import (
    TIME_EXAMPLE,
    UtcDateTimeField,
)
from clinic.api.views import CapabilityAPIView
from clinic.permissions import Capability
from content import selectors, services
from content.models import Article, ArticleRevision, FaqCategory, FaqEntry
from content.rendering import render_markdown

# --- Public ---------------------------------------------------------------------------------


class CategorySerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    slug = serializers.SlugField(read_only=True)


class PublicFaqSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    category = CategorySerializer(read_only=True)
    question = serializers.CharField(source="published_revision.question", read_only=True)
    answer = serializers.CharField(
        source="published_revision.answer", read_only=True, help_text="Markdown."
    )
    answer_html = serializers.SerializerMethodField(help_text="The answer as safe HTML.")

    @extend_schema_field(OpenApiTypes.STR)
    def get_answer_html(self, entry: FaqEntry) -> str:
        return str(render_markdown(entry.published_revision.answer))


class PublicArticleSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    slug = serializers.SlugField(read_only=True, help_text="Its address: /learn/<slug>/.")
    title = serializers.CharField(source="published_revision.title", read_only=True)
    summary = serializers.CharField(source="published_revision.summary", read_only=True)
    hero_text = serializers.CharField(source="published_revision.hero_text", read_only=True)
    seo_title = serializers.CharField(source="published_revision.seo_title", read_only=True)
    seo_description = serializers.CharField(
        source="published_revision.seo_description", read_only=True
    )
    published_at = UtcDateTimeField(read_only=True)


class PublicArticleDetailSerializer(PublicArticleSerializer):
    body = serializers.CharField(
        source="published_revision.body", read_only=True, help_text="Markdown."
    )
    body_html = serializers.SerializerMethodField(help_text="The body as safe HTML.")

    @extend_schema_field(OpenApiTypes.STR)
    def get_body_html(self, article: Article) -> str:
        return str(render_markdown(article.published_revision.body))


class _Public(generics.GenericAPIView):
    """Readable by anyone: no sign-in, and a stale token is not refused either."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []


class PublicFaqList(_Public):
    """The published FAQ, in the order of the FAQ page (by category, then place)."""

    serializer_class = PublicFaqSerializer
    pagination_class = None

    @extend_schema(auth=[], responses={200: PublicFaqSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(PublicFaqSerializer(selectors.faq_published(), many=True).data)


class PublicArticleList(_Public, generics.ListAPIView):
    """Published articles, most recently published first (without their bodies)."""

    serializer_class = PublicArticleSerializer

    def get_queryset(self) -> Any:
        return selectors.articles_published()

    @extend_schema(auth=[], responses={200: PublicArticleSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PublicArticleDetail(_Public):
    serializer_class = PublicArticleDetailSerializer

    @extend_schema(
        auth=[],
        responses={
            200: PublicArticleDetailSerializer,
            301: OpenApiResponse(description="An earlier slug: Location has the current one."),
            404: ERRORS_404,
        },
    )
    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        """One published article by its slug, with its body."""
        found = selectors.article_published_by_slug(slug)
        if isinstance(found, str):
            return HttpResponsePermanentRedirect(
                reverse("api:content-article-detail", args=[found])
            )
        if found is None:
            return Response(
                {"detail": "There is no published article at that address."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(PublicArticleDetailSerializer(found).data)


# --- Editing --------------------------------------------------------------------------------


class _Editor(CapabilityAPIView):
    read_capability = Capability.EDIT_CONTENT
    write_capability = Capability.EDIT_CONTENT


class _EditorState(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    state = serializers.SerializerMethodField(
        help_text="draft (not on the site), scheduled (goes live at publish_at), published, "
        "or changed (published, with later revisions not yet published)."
    )
    publish_at = UtcDateTimeField(read_only=True, allow_null=True)
    published_revision = serializers.IntegerField(
        source="published_revision.number",
        read_only=True,
        allow_null=True,
        help_text="The revision the public sees (or will, when scheduled).",
    )
    revision = serializers.IntegerField(
        source="latest_number", read_only=True, help_text="The latest revision: what follows."
    )
    saved_at = UtcDateTimeField(source="latest_at", read_only=True)
    saved_by = serializers.CharField(source="latest_by", read_only=True, allow_null=True)

    # A plain string: an enum here would collide with other "state" enums in the schema.
    @extend_schema_field(OpenApiTypes.STR)
    def get_state(self, item: Any) -> str:
        published = item.published_revision.number if item.published_revision else None
        return selectors.state_of(item, item.latest_number, published)


class EditorFaqSerializer(_EditorState):
    category = CategorySerializer(read_only=True)
    order = serializers.IntegerField(read_only=True, help_text="Its place within its category.")
    question = serializers.CharField(source="latest_question", read_only=True)
    answer = serializers.CharField(source="latest_answer", read_only=True, help_text="Markdown.")


class EditorArticleSerializer(_EditorState):
    slug = serializers.CharField(
        read_only=True, allow_null=True, help_text="Its public address now (null until published)."
    )
    title = serializers.CharField(source="latest.title", read_only=True)
    new_slug = serializers.CharField(
        source="latest.slug", read_only=True, help_text="The slug of the latest revision."
    )
    summary = serializers.CharField(source="latest.summary", read_only=True)
    hero_text = serializers.CharField(source="latest.hero_text", read_only=True)
    body = serializers.CharField(source="latest.body", read_only=True, help_text="Markdown.")
    seo_title = serializers.CharField(source="latest.seo_title", read_only=True)
    seo_description = serializers.CharField(source="latest.seo_description", read_only=True)


class FaqWriteSerializer(serializers.Serializer):
    category = serializers.SlugField(
        help_text="The category's slug, as in /api/v1/content/faq/.",
        error_messages={"required": "Say which category: give its slug."},
    )
    question = serializers.CharField(
        allow_blank=True, error_messages={"required": "Enter the question."}
    )
    answer = serializers.CharField(
        allow_blank=True,
        help_text="Markdown.",
        error_messages={"required": "Write the answer (Markdown)."},
    )


class ArticleWriteSerializer(serializers.Serializer):
    title = serializers.CharField(allow_blank=True)
    slug = serializers.CharField(allow_blank=True, help_text="Lowercase letters, digits, hyphens.")
    summary = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True, help_text="Markdown.")
    hero_text = serializers.CharField(allow_blank=True, required=False, default="")
    seo_title = serializers.CharField(allow_blank=True, required=False, default="")
    seo_description = serializers.CharField(allow_blank=True, required=False, default="")


class PublishSerializer(serializers.Serializer):
    publish_at = UtcDateTimeField(
        required=False,
        allow_null=True,
        help_text=f"Go live at this future time, e.g. {TIME_EXAMPLE}; now if left out.",
    )


def _category(slug: str) -> FaqCategory:
    category = FaqCategory.objects.filter(slug=slug).first()
    if category is None:
        raise refused(
            "category",
            f"There is no category “{slug}”. Use the slug of one in /api/v1/content/faq/.",
        )
    return category


def _faq_out(entry: FaqEntry) -> dict[str, Any]:
    latest = selectors.faq_latest_revision(entry)
    entry.latest_number, entry.latest_question, entry.latest_answer = (
        latest.number,
        latest.question,
        latest.answer,
    )
    entry.latest_at = latest.created_at
    entry.latest_by = latest.created_by.full_name if latest.created_by else None
    return EditorFaqSerializer(entry).data


def _article_out(article: Article) -> dict[str, Any]:
    article.latest = selectors.article_latest_revision(article)
    article.latest_number, article.latest_at = article.latest.number, article.latest.created_at
    article.latest_by = article.latest.created_by.full_name if article.latest.created_by else None
    return EditorArticleSerializer(article).data


class EditorFaqList(_Editor, generics.ListAPIView):
    """Every FAQ entry with its state and latest revision, in page order. POST adds one, as
    a draft, last in its category."""

    serializer_class = EditorFaqSerializer

    def get_queryset(self) -> Any:
        return selectors.faq_entries_for(self.request.user)

    @extend_schema(responses={200: EditorFaqSerializer(many=True), **LIST_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=FaqWriteSerializer, responses={201: EditorFaqSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(FaqWriteSerializer)
        with field_errors():
            entry = services.faq_save(
                actor=request.user,
                category=_category(data["category"]),
                question=data["question"],
                answer=data["answer"],
                request=request,
            )
        return Response(_faq_out(entry), status=status.HTTP_201_CREATED)


class _FaqScoped(_Editor):
    """Views under editor/faq/<id>/: the entry through the one access function."""

    serializer_class = EditorFaqSerializer

    def entry(self) -> FaqEntry:
        return selectors.faq_entry_for(self.request.user, self.kwargs["entry_id"])


class EditorFaqDetail(_FaqScoped):
    @extend_schema(responses={200: EditorFaqSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One FAQ entry, with its latest revision."""
        return Response(_faq_out(self.entry()))

    @extend_schema(request=FaqWriteSerializer, responses={200: EditorFaqSerializer, **WRITE_ERRORS})
    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Save a new revision (none if nothing changed). The public keeps seeing the
        published revision until this one is published."""
        entry = self.entry()
        data = self.validated(FaqWriteSerializer)
        with field_errors():
            entry = services.faq_save(
                actor=request.user,
                entry=entry,
                category=_category(data["category"]),
                question=data["question"],
                answer=data["answer"],
                request=request,
            )
        return Response(_faq_out(selectors.faq_entry_for(request.user, entry.public_id)))


class EditorFaqPublish(_FaqScoped):
    @extend_schema(request=PublishSerializer, responses={200: EditorFaqSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Publish the latest revision, now or at a future ``publish_at`` (only for an entry
        not on the site now)."""
        entry = self.entry()
        data = self.validated(PublishSerializer)
        with field_errors():
            entry = services.faq_publish(
                actor=request.user,
                entry=entry,
                publish_at=data.get("publish_at"),
                request=request,
            )
        return Response(_faq_out(selectors.faq_entry_for(request.user, entry.public_id)))


class EditorFaqUnpublish(_FaqScoped):
    @extend_schema(request=None, responses={200: EditorFaqSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Take the entry off the public site, or cancel its schedule."""
        entry = self.entry()
        with field_errors():
            services.faq_unpublish(actor=request.user, entry=entry, request=request)
        return Response(_faq_out(selectors.faq_entry_for(request.user, entry.public_id)))


class EditorArticleList(_Editor, generics.ListAPIView):
    """Every article with its state and latest revision, newest first. POST adds one, as a
    draft."""

    serializer_class = EditorArticleSerializer

    def get_queryset(self) -> Any:
        return selectors.articles_for(self.request.user)

    @extend_schema(responses={200: EditorArticleSerializer(many=True), **LIST_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        revisions = {
            (r.article_id, r.number): r
            for r in ArticleRevision.objects.filter(
                article__in=[a.pk for a in page]
            ).select_related("created_by")
        }
        for article in page:
            article.latest = revisions[(article.pk, article.latest_number)]
        return self.get_paginated_response(EditorArticleSerializer(page, many=True).data)

    @extend_schema(
        request=ArticleWriteSerializer, responses={201: EditorArticleSerializer, **WRITE_ERRORS}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(ArticleWriteSerializer)
        with field_errors():
            article = services.article_save(actor=request.user, request=request, **data)
        return Response(_article_out(article), status=status.HTTP_201_CREATED)


class _ArticleScoped(_Editor):
    """Views under editor/articles/<id>/: the article through the one access function."""

    serializer_class = EditorArticleSerializer

    def article(self) -> Article:
        return selectors.article_for(self.request.user, self.kwargs["article_id"])


class EditorArticleDetail(_ArticleScoped):
    @extend_schema(responses={200: EditorArticleSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One article, with its latest revision."""
        return Response(_article_out(self.article()))

    @extend_schema(
        request=ArticleWriteSerializer, responses={200: EditorArticleSerializer, **WRITE_ERRORS}
    )
    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Save a new revision (none if nothing changed). A new slug becomes the address when
        the revision is published; the old address then redirects."""
        article = self.article()
        data = self.validated(ArticleWriteSerializer)
        with field_errors():
            services.article_save(actor=request.user, article=article, request=request, **data)
        return Response(_article_out(self.article()))


class EditorArticlePublish(_ArticleScoped):
    @extend_schema(
        request=PublishSerializer, responses={200: EditorArticleSerializer, **WRITE_ERRORS}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Publish the latest revision, now or at a future ``publish_at`` (only for an
        article not on the site now)."""
        article = self.article()
        data = self.validated(PublishSerializer)
        with field_errors():
            services.article_publish(
                actor=request.user,
                article=article,
                publish_at=data.get("publish_at"),
                request=request,
            )
        return Response(_article_out(self.article()))


class EditorArticleUnpublish(_ArticleScoped):
    @extend_schema(request=None, responses={200: EditorArticleSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Take the article off the public site, or cancel its schedule."""
        article = self.article()
        with field_errors():
            services.article_unpublish(actor=request.user, article=article, request=request)
        return Response(_article_out(self.article()))


urlpatterns = [
    path("content/faq/", PublicFaqList.as_view(), name="content-faq-list"),
    path("content/articles/", PublicArticleList.as_view(), name="content-article-list"),
    path(
        "content/articles/<slug:slug>/",
        PublicArticleDetail.as_view(),
        name="content-article-detail",
    ),
    path("content/editor/faq/", EditorFaqList.as_view(), name="content-editor-faq-list"),
    path(
        "content/editor/faq/<uuid:entry_id>/",
        EditorFaqDetail.as_view(),
        name="content-editor-faq-detail",
    ),
    path(
        "content/editor/faq/<uuid:entry_id>/publish/",
        EditorFaqPublish.as_view(),
        name="content-editor-faq-publish",
    ),
    path(
        "content/editor/faq/<uuid:entry_id>/unpublish/",
        EditorFaqUnpublish.as_view(),
        name="content-editor-faq-unpublish",
    ),
    path(
        "content/editor/articles/",
        EditorArticleList.as_view(),
        name="content-editor-article-list",
    ),
    path(
        "content/editor/articles/<uuid:article_id>/",
        EditorArticleDetail.as_view(),
        name="content-editor-article-detail",
    ),
    path(
        "content/editor/articles/<uuid:article_id>/publish/",
        EditorArticlePublish.as_view(),
        name="content-editor-article-publish",
    ),
    path(
        "content/editor/articles/<uuid:article_id>/unpublish/",
        EditorArticleUnpublish.as_view(),
        name="content-editor-article-unpublish",
    ),
]
