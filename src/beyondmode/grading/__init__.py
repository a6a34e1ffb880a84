"""Graders: which gold element does a candidate hit, if any; and which candidates are the same answer.

A grader is pure and memoisable. Each task names its grader (`Example.grader`); `get_grader(name)`
returns the shared instance.

>>> from beyondmode.grading import get_grader
>>> grader = get_grader("exact_match")
>>> grader.match("The Flu!", (("influenza", "flu"), ("measles",)))
0
"""

from beyondmode.grading.base import (
    Grader,
    Grades,
    answer_order,
    get_grader,
    grade_expected,
    grade_labels,
    register_grader,
)
from beyondmode.grading.exact import ExactMatchGrader, normalize_answer

__all__ = [
    "ExactMatchGrader",
    "Grader",
    "Grades",
    "answer_order",
    "get_grader",
    "grade_expected",
    "grade_labels",
    "normalize_answer",
    "register_grader",
]
