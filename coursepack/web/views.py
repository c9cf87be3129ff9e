"""Server-rendered pages (thin: parse, call selectors, render)."""

from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Coursepack")
