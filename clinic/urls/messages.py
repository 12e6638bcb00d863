"""Public message endpoints, under /m/ (namespace "messages"): the email unsubscribe page
and the SMS providers' inbound webhooks (the generic one, and Twilio's)."""

from django.urls import path

from clinic.views import messages

app_name = "messages"

urlpatterns = [
    path("unsubscribe/<str:token>/", messages.unsubscribe, name="unsubscribe"),
    path("sms/inbound/", messages.sms_inbound, name="sms-inbound"),
    path("sms/twilio/", messages.sms_inbound_twilio, name="sms-inbound-twilio"),
]
