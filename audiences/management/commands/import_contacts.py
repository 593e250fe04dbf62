"""`python manage.py import_contacts FILE.csv`: the CSV import from the shell, run in-process."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audiences.imports import ImportFileError, import_job_create, import_run, validate_mapping
from audiences.models import ImportJob
from kit.services import audit_record


class Command(BaseCommand):
    help = "Import contacts from a CSV file (upsert by line id); prints the counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--line-id-column", default="line_id")
        parser.add_argument(
            "--display-name-column",
            default=None,
            help="default: a column named display_name, displayname, name or 表示名 (any case); "
            'pass "" for none',
        )
        parser.add_argument(
            "--type",
            action="append",
            default=[],
            metavar="COLUMN=TYPE",
            help="an attribute column's type: text, number, boolean or date (default: the "
            "attribute's known type, else what the first rows look like)",
        )
        parser.add_argument(
            "--skip", action="append", default=[], metavar="COLUMN", help="a column to ignore"
        )
        parser.add_argument(
            "--replace-attributes",
            action="store_true",
            help="replace stored attributes instead of merging into them",
        )

    def handle(self, *args, **options) -> None:
        path = os.path.abspath(options["file"])
        if not os.path.isfile(path):
            raise CommandError(f"No such file: {path}")
        limit = settings.CONTACT_IMPORT_MAX_MB * 1024 * 1024
        if os.path.getsize(path) > limit:
            raise CommandError(
                f"The file is larger than {settings.CONTACT_IMPORT_MAX_MB} MB "
                "(CONTACT_IMPORT_MAX_MB)."
            )
        try:
            job = import_job_create(path=path, original_name=os.path.basename(path), user=None)
            mapping = self._mapping(job, options)
            job.mapping = validate_mapping(header=job.header, mapping=mapping)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        job.replace_attributes = options["replace_attributes"]
        job.status = ImportJob.Status.QUEUED
        job.save()
        audit_record(
            actor=None, action="contact.import", target=job, details={"file": job.original_name}
        )
        job = import_run(job=job)
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(job.error_message)
        self.stdout.write(f"created {job.created}, updated {job.updated}, rejected {job.rejected}")
        if job.error_report:
            self.stdout.write(f"error report: {job.error_report.path}")

    def _mapping(self, job: ImportJob, options: dict) -> dict:
        types = {}
        for item in options["type"]:
            column, sep, kind = item.partition("=")
            if not sep:
                raise CommandError(f"--type takes COLUMN=TYPE, not {item!r}.")
            types[column] = kind
        line_id, name = options["line_id_column"], options["display_name_column"]
        if name is None:
            name = job.mapping["display_name"] if job.mapping["display_name"] != line_id else ""
        proposed = job.mapping["attributes"]  # types inferred on upload, or the catalogue's
        skipped = {line_id, name, *options["skip"]}
        attributes = {
            c: types.get(c, proposed.get(c, ImportJob.ColumnType.TEXT))
            for c in job.header
            if c and c not in skipped
        }
        for column in types:
            if column not in job.header:
                raise CommandError(f"--type: the file has no column {column!r}.")
        return {"line_id": line_id, "display_name": name, "attributes": attributes}
