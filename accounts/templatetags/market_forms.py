"""Helpers for ``templates/forms/field.html``: the widget's kind and its Bootstrap classes."""

from django import forms, template

register = template.Library()

CHOICE_LISTS = (forms.CheckboxSelectMultiple, forms.RadioSelect)


@register.filter
def widget_kind(bound_field) -> str:
    widget = bound_field.field.widget
    if isinstance(widget, CHOICE_LISTS):
        return "choices"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.Select | forms.SelectMultiple):
        return "select"
    return "input"


@register.filter
def with_classes(bound_field):
    """Render the widget with Bootstrap's classes; keeps whatever the user typed."""
    kind = widget_kind(bound_field)
    css = {
        "choices": "form-check-input",
        "checkbox": "form-check-input",
        "select": "form-select",
        "input": "form-control",
    }[kind]
    existing = bound_field.field.widget.attrs.get("class", "")
    classes = " ".join(filter(None, [css, existing, "is-invalid" if bound_field.errors else ""]))
    return bound_field.as_widget(attrs={"class": classes})
