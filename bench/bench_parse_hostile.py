"""Hostile completions: the worst time of each shape through the parser, the scorer and the span finder.

Every shape is built at several sizes up to 1 MB (characters) and goes through `AnswerFormat.parse`,
`Scorer.score` (parse, grade, every term) and the token-credit span finder
(`beyondmode.train.token_credit.confidence_spans`, which reads the one parse). For each shape the bench
prints the slowest call and whether any call raised; then the worst overall. Goal (issue 12): none
raises, each under 100 ms at 1 MB. The format reads at most `--max-chars` characters (the default
`AnswerFormat.max_chars`, 200,000; a longer completion is `too_long`); `--max-chars 0` times the parser
without that limit. Memo caches are cleared before every call, so a repeat is not a
cache hit; each call is timed `--repeats` times and the fastest counts (the machine is shared).

    python bench/bench_parse_hostile.py [--max-size 1000000] [--repeats 3] [--max-chars 200000]

`tests/test_hostile_completions.py` feeds the same shapes, at small sizes, to a Hypothesis test.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

GOOD = (
    "<think> fever and cough </think>\n"
    "<answer1> influenza </answer1> <confidence1> 0.5 </confidence1>\n"
    "<answer2> common cold </answer2> <confidence2> 0.3 </confidence2>\n"
    "<answer3> covid-19 </answer3> <confidence3> 0.1 </confidence3>"
)


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // max(1, len(unit)) + 1))[:size]


def hostile_shapes(size: int) -> dict[str, str]:
    """Completions of about `size` characters, one per hostile shape (K = 3 formats)."""
    many_slots = "".join(
        f"<answer{i}> a{i} </answer{i}> <confidence{i}> 0.1 </confidence{i}>"
        for i in range(1, size // 40 + 2)
    )
    return {
        "long slot number": "<answer" + "1" * size + "> a </answer1>",
        "long slot number, closing": "<think> t </think> <answer1> a </answer" + "1" * size + ">",
        "long zero slot number": "<confidence" + "0" * size + "1> 0.5 </confidence1>",
        "unicode slot digits": "<answer" + "\u0661" * size + "> a </answer\u0661>",
        "unclosed confidence + spaces": "<think> t </think> <answer2> b </answer2> <confidence2>"
        + " " * size,
        "unclosed tags + whitespace": _repeat("<answer1>" + " \n\t" * 50, size),
        "nested tags": _repeat("<answer1>", size),
        "nested think": _repeat("<think> ", size),
        "many slots": many_slots[: max(size, 80)],
        "many closing tags": _repeat("</confidence2>", size),
        "fence + whitespace": "<think> t </think> <answer1>```\n" + " " * size + "x </answer1>",
        "fence + tabs/newlines": "<answer1>```py \n" + _repeat(" \t\n", size) + "``` </answer1>",
        "fence, closed": "<answer1>```python\n" + _repeat("x = 1\n", size) + "```</answer1>",
        "huge confidence digits": GOOD.replace("0.5", "1" * size),
        "huge confidence decimals": GOOD.replace("0.5", "0." + "0" * size + "1"),
        "huge confidence exponent": GOOD.replace("0.5", "1e" + "9" * size),
        "unicode digits confidence": GOOD.replace("0.5", "\u0660." + "\u0665" * size),
        "percent run": GOOD.replace("0.5", "5" + "%" * size),
        "well formed + trailing spaces + junk": GOOD + " " * size + "x",
        "spaces between every tag": GOOD.replace(" <", " " * (size // 8) + "<"),
        "think full of spaces, unclosed": "<think>" + " " * size + "<answer1",
        "many '<'": "<answer1>" + "<" * size + "</answer1>",
        "many '<' outside": "<" * size,
        "many '>'": "<answer1>" + ">" * size + "</answer1>",
        "fake tags inside an answer": "<answer1>" + _repeat("<sub>2</sub> a < b ", size) + "</answer1>",
        "tag-like heads without '>'": _repeat("<answer1 ", size),
        "long non-tag head": "<" + "answer" + "x" * size + "> y",
        "huge answer": GOOD.replace("influenza", _repeat("influenza ", size)),
        "huge answer of articles": GOOD.replace("influenza", _repeat("the a an ", size)),
        "huge answer of punctuation": GOOD.replace("influenza", _repeat("!,.-'", size) + "flu"),
        "huge unicode answer": GOOD.replace("influenza", _repeat("Caf\u00e9 \u00e0 la cr\u00e8me ", size)),
        "huge combining marks": GOOD.replace("influenza", "f" + "\u0301" * size + "lu"),
        "huge CJK answer": GOOD.replace("influenza", _repeat("\u6d41\u611f", size)),
        "huge astral answer": GOOD.replace("influenza", _repeat("\U0001f600\U00020000", size)),
        "NUL and control characters": _repeat("<answer1>\x00\x1b[0m</answer1>", size),
        "digits only": "1" * size,
    }


def _clear_caches() -> None:
    from beyondmode import formats
    from beyondmode.grading import exact

    formats._parse_confidence_cached.cache_clear()
    exact._normalize_cached.cache_clear()
    exact._normalize_long.cache_clear()
    exact._alias_index.cache_clear()


def _time(call: Callable[[], object], repeats: int) -> tuple[float, str | None]:
    best = float("inf")
    for _ in range(repeats):
        _clear_caches()
        started = time.perf_counter()
        try:
            call()
        except Exception as error:  # the bench reports what raised; it must not stop at the first one
            return time.perf_counter() - started, f"{type(error).__name__}: {str(error)[:80]}"
        best = min(best, time.perf_counter() - started)
    return best, None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-size", type=int, default=1_000_000, help="largest shape, in characters")
    parser.add_argument("--repeats", type=int, default=3, help="timings per call; the fastest counts")
    parser.add_argument("--max-chars", type=int, default=None, help="AnswerFormat.max_chars (0: no limit)")
    parser.add_argument("--give-up-s", type=float, default=5.0, help="skip larger sizes of a shape past this")
    args = parser.parse_args()

    from beyondmode.scoring import Scorer
    from beyondmode.train.token_credit import confidence_spans

    scorer = Scorer.for_method("multi_rlcr", 3)
    if args.max_chars is not None:
        limited = dataclasses.replace(scorer.answer_format, max_chars=args.max_chars)
        scorer = dataclasses.replace(scorer, answer_format=limited)
    fmt = scorer.answer_format
    gold = [["influenza", "flu"], ["common cold"]]
    sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= args.max_size] or [args.max_size]
    calls: dict[str, Callable[[str], object]] = {
        "parse": fmt.parse,
        "score": lambda text: scorer.score(text, gold),
        "spans": lambda text: confidence_spans(fmt.parse(text)),
    }
    print(
        f"bench_parse_hostile: sizes {sizes} characters, max_chars {fmt.max_chars:,}, {args.repeats} repeats, "
        "caches cleared per call"
    )
    print(f"{'shape':40s} {'worst ms':>9s}  {'where':28s} raised")
    overall: tuple[float, str] = (0.0, "")
    failures = 0
    names = list(hostile_shapes(10))
    for name in names:
        worst, where, raised = 0.0, "", []
        for size in sizes:
            text = hostile_shapes(size)[name]
            slowest_here = 0.0
            for label, call in calls.items():
                seconds, error = _time(lambda call=call, text=text: call(text), args.repeats)
                slowest_here = max(slowest_here, seconds)
                if error is not None:
                    raised.append(f"{label}@{len(text)}: {error}")
                if seconds >= worst:
                    worst, where = seconds, f"{label} @ {len(text):,} chars"
            if slowest_here > args.give_up_s:
                where += " (larger sizes skipped)"
                break
        failures += bool(raised) or worst >= 0.1
        print(f"{name:40s} {worst * 1000:9.1f}  {where:28s} {'; '.join(raised) or '-'}")
        if worst >= overall[0]:
            overall = (worst, f"{name}, {where}")
    print(f"bench_parse_hostile: worst overall {overall[0] * 1000:.1f} ms ({overall[1]})")
    print(f"bench_parse_hostile: {failures} of {len(names)} shapes raised or took >= 100 ms")


if __name__ == "__main__":
    main()
