"""Stripe's webhook, at /hooks/stripe/ (outside /staff/: Stripe has no session)."""

from django.urls import path

from billing.views.webhook import stripe_webhook

app_name = "billing_hooks"

urlpatterns = [path("stripe/", stripe_webhook, name="stripe")]
