"""Tasks: each yields `Example`s (prompt messages, gold answers, optional exact posterior) and names its
grader. One module per data set."""

from beyondmode.tasks.base import Task, build_prompt

__all__ = ["Task", "build_prompt"]
