"""One look for every form: Django renders forms and fields through our templates.

``templates/forms/form.html`` lays out a form (non-field errors first, then each field);
``templates/forms/field.html`` renders one field with its label, help text and errors, and the
widget with Bootstrap's classes (``is-invalid`` when it has errors). Widgets' own templates are
overridden under ``templates/django/forms/widgets/`` where Bootstrap needs other markup.
"""

from django.forms.renderers import TemplatesSetting


class SiteFormRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
