"""Queue a Celery task by its name, so a module never imports the tasks module above it
(docs/design.md §2: services enqueue by name; tasks are the top of each app)."""

from __future__ import annotations

from celery import current_app
from celery.result import AsyncResult


def enqueue(name: str, *args, **options) -> AsyncResult:
    """Like `task.delay(*args)` / `task.apply_async(args, **options)`, found by name: eager when
    CELERY_TASK_ALWAYS_EAGER is set, and with the options the task was declared with."""
    task = current_app.tasks.get(name)
    if task is None:
        # A web process may not have imported the apps' tasks modules yet.
        current_app.loader.import_default_modules()
        task = current_app.tasks.get(name)
    if task is None:
        return current_app.send_task(name, args=args, **options)
    return task.apply_async(args=args, **options)
