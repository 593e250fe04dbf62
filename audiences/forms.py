import json

from django import forms
from django.conf import settings

from audiences.models import Contact, ImportJob
from audiences.selectors import attribute_types
from kit.forms import BootstrapForm
from kit.input_guard import nul_path

ANY = [("", "Any")]


class ContactFilterForm(BootstrapForm):
    q = forms.CharField(
        required=False,
        label="Search",
        help_text="A line id (or its beginning), a name, or an attribute value.",
    )
    follow_status = forms.ChoiceField(required=False, choices=[*ANY, *Contact.FollowStatus.choices])
    kind = forms.ChoiceField(required=False, choices=ANY + list(Contact.Kind.choices))
    source = forms.ChoiceField(required=False, choices=ANY + list(Contact.Source.choices))
    # Set by an import's "See the imported contacts" link: the rows that import wrote.
    import_job = forms.ModelChoiceField(
        queryset=ImportJob.objects.all(), required=False, widget=forms.HiddenInput
    )


class ContactEditForm(BootstrapForm):
    display_name = forms.CharField(max_length=255, required=False)
    attributes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace"}),
        required=False,
        help_text='A JSON object, e.g. {"plan": "gold", "age": 34}.',
    )

    def clean_attributes(self) -> dict:
        raw = self.cleaned_data["attributes"].strip() or "{}"
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Attributes must be a JSON object: {...}.")
        if nul_path(value) is not None:
            raise forms.ValidationError("Attributes must not contain the NUL character (\\u0000).")
        return value


class ImportUploadForm(BootstrapForm):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 (with or without BOM) or Shift_JIS; comma or tab separated; the first "
        "row names the columns.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.CONTACT_IMPORT_MAX_MB
        if upload.size > limit * 1024 * 1024:
            raise forms.ValidationError(f"The file is larger than the {limit} MB limit.")
        return upload


class ImportMappingForm(BootstrapForm):
    """One select per column: ignore it, or import it as an attribute of a type."""

    IGNORE = ""

    line_id = forms.ChoiceField(label="Column holding the LINE id")
    display_name = forms.ChoiceField(label="Column holding the display name", required=False)
    # What a column chosen above is shown as instead of an attribute type (mapping() skips it).
    CLAIMED = {"line_id": "LINE id column", "display_name": "Display name column"}
    replace_attributes = forms.BooleanField(
        required=False,
        label="Replace existing attributes (otherwise new values are merged into them)",
    )

    def __init__(self, *args, job: ImportJob, **kwargs) -> None:
        self.job = job
        columns = [(c, c) for c in job.header if c]
        super().__init__(*args, **kwargs)
        self.fields["line_id"].choices = columns
        self.fields["display_name"].choices = [("", "None"), *columns]
        for name, label in self.CLAIMED.items():
            self.fields[name].widget.attrs["data-claims"] = label  # app.js follows a change
        types = [(self.IGNORE, "Ignore"), *list(ImportJob.ColumnType.choices)]
        known = attribute_types(keys=[c for c in job.header if c])
        # The proposal made on upload: the catalogue's type for known keys, else the inferred one.
        proposed = job.mapping.get("attributes") or {}
        for index, column in enumerate(job.header):
            if column:
                self.fields[f"col_{index}"] = forms.ChoiceField(
                    label=column,
                    choices=types,
                    required=False,
                    initial=proposed.get(column, self.IGNORE),
                    help_text=f"Known attribute: {known[column]}" if column in known else "",
                    # Added after BootstrapForm styled the declared fields.
                    widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
                )

    def column_fields(self) -> list[tuple]:
        """(field, what the column is claimed as or "") for each column, in file order."""
        claimed = {self[name].value(): label for name, label in self.CLAIMED.items()}
        return [(self[f"col_{i}"], claimed.get(c, "")) for i, c in enumerate(self.job.header) if c]

    def mapping(self) -> dict:
        data = self.cleaned_data
        skip = {data["line_id"], data.get("display_name") or ""}
        attributes = {
            column: data[f"col_{index}"]
            for index, column in enumerate(self.job.header)
            if column and column not in skip and data.get(f"col_{index}")
        }
        return {
            "line_id": data["line_id"],
            "display_name": data.get("display_name") or "",
            "attributes": attributes,
        }


class SegmentForm(BootstrapForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
