"""The format keys of the `eval:` section reach every evaluated method's answer format."""

from __future__ import annotations

import pytest

from beyondmode.evaluate.job import settings_from_mapping
from beyondmode.evaluate.methods import build_methods

PUBLISHED_RLCR = (
    "<think> built for the 1889 World's Fair </think>\n<answer> 1889 </answer>\n"
    "<analysis> a well known date </analysis>\n<confidence> 0.9 </confidence>"
)


def test_default_eval_formats_accept_the_published_layouts() -> None:
    methods = {
        m.name: m for m in build_methods(settings_from_mapping({"methods": ["multi_answer", "greedy"]}))
    }
    assert methods["greedy"].answer_format.parse(PUBLISHED_RLCR).format_ok
    assert methods["multi_answer"].answer_format.with_analysis


def test_format_keys_are_applied() -> None:
    settings = settings_from_mapping(
        {
            "methods": ["multi_answer", "greedy"],
            "with_analysis": False,
            "layout": "split",
            "require_think": False,
        }
    )
    multi, greedy = build_methods(settings)
    assert (multi.answer_format.layout, multi.answer_format.require_think) == ("split", False)
    assert not greedy.answer_format.parse(PUBLISHED_RLCR).format_ok


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"layout": "diagonal"}, "eval.layout"),
        ({"with_analysis": "yes"}, "eval.with_analysis"),
        ({"require_think": "no"}, "eval.require_think"),
        ({"analysis": True}, "analysis"),
    ],
)
def test_bad_format_keys_are_named(section: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        settings_from_mapping(section)
