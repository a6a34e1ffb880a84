"""beyondmode: multi-answer reinforcement learning.

Train and evaluate language models that answer with a set of K distinct candidates, each with a
calibrated confidence, in one generation.
"""

from beyondmode.formats import FORMAT_VERSION, AnswerFormat, Layout
from beyondmode.rewards import REWARD_VERSION
from beyondmode.types import Candidate, Example, ParsedResponse, Violation

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "REWARD_VERSION",
    "AnswerFormat",
    "Candidate",
    "Example",
    "Layout",
    "ParsedResponse",
    "Violation",
    "__version__",
]
