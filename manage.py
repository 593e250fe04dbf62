#!/usr/bin/env python3
"""Django's command line. `./manage.py …` works from any terminal in this folder: run by a Python
without Django, it runs itself again with the project's .venv (which `make run` creates)."""

import os
import sys
from pathlib import Path
from typing import NoReturn

VENV_PYTHON = Path(__file__).resolve().parent / ".venv" / "bin" / "python"


def _use_the_venv() -> NoReturn:
    if Path(sys.prefix).resolve() == VENV_PYTHON.parent.parent.resolve():
        sys.exit("Django is missing from .venv: run `make install`.")
    if not VENV_PYTHON.exists():
        sys.exit("No Django here and no .venv yet: run `make run` (or `make install`) first.")
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), os.path.abspath(__file__), *sys.argv[1:]])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linecampaigns.settings")
    try:
        from django.core.management import execute_from_command_line
    except ModuleNotFoundError as exc:
        if exc.name != "django":
            raise
        _use_the_venv()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
