from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic.selectors import locations_public


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "content/home.html", {"locations": locations_public()})
