from django import forms

from inventory.models import GpuModel, Interconnect, Region


class ClusterSearchForm(forms.Form):
    gpu_model = forms.ModelChoiceField(
        GpuModel.objects.all(),
        to_field_name="code",
        required=False,
        empty_label="Any GPU",
        label="GPU model",
    )
    region = forms.ModelChoiceField(
        Region.objects.all(), to_field_name="code", required=False, empty_label="Any region"
    )
    interconnect = forms.ChoiceField(
        choices=[("", "Any network"), *Interconnect.choices], required=False
    )
    max_price = forms.DecimalField(required=False, min_value=0, label="Max CNY / P / year")
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    min_free_p = forms.DecimalField(required=False, min_value=0, label="Min free P")
    mine = forms.BooleanField(required=False, label="Only my clusters")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if bool(start) != bool(end):
            raise forms.ValidationError("Give both a start and an end date, or neither.")
        if start and end and end <= start:
            self.add_error("end", "Must be after the start.")
        if data.get("min_free_p") is not None and not start:
            self.add_error("min_free_p", "Free capacity needs a window: give start and end.")
        return data
