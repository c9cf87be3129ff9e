"""The widgets written without templates (the report filter form's) write what Django's
widget templates write (the same elements, attributes and text; the select's attributes
in another order, its options without indentation), for values, errors and help texts."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.test.html import parse_html

from coursepack.web.reports import PlainDateInput, PlainDateTimeInput, PlainSelect

CHOICES = [("", "All"), (1, "Safety & <Health>"), (2, 'The "quoted" one'), (30, "Plain")]


def _form(plain: bool, data: dict[str, Any]) -> forms.Form:
    date_widget = PlainDateInput if plain else forms.DateInput
    moment_widget = PlainDateTimeInput if plain else forms.DateTimeInput
    select_widget = PlainSelect if plain else forms.Select

    class Filters(forms.Form):
        day = forms.DateField(
            required=False,
            widget=date_widget(attrs={"type": "date"}, format="%Y-%m-%d"),
            help_text="The day 'to' is not in it.",
        )
        moment = forms.DateTimeField(
            required=False,
            widget=moment_widget(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        )
        pick = forms.TypedChoiceField(
            required=False, coerce=int, empty_value=None, choices=CHOICES, widget=select_widget()
        )
        needed = forms.DateField(widget=date_widget(attrs={"type": "date"}))

    form = Filters(data)
    form.is_valid()
    return form


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"day": "2025-03-01", "moment": "2025-03-01T10:30", "pick": "2", "needed": "2025-01-01"},
        {"day": "not a day", "moment": '"><script>', "pick": "99", "needed": ""},
        {"day": "2025-02-30", "pick": "30"},
        {"pick": "1", "needed": "<b>&</b>"},
    ],
)
def test_plain_widgets_write_what_the_templates_write(data: dict[str, Any]) -> None:
    plain, stock = _form(True, data), _form(False, data)
    assert plain.errors == stock.errors
    for name in stock.fields:
        assert parse_html(str(plain[name])) == parse_html(str(stock[name])), name
        if name != "pick":  # the inputs: the same characters too
            assert str(plain[name]) == str(stock[name]), name
