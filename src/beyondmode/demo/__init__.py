"""`beyondmode demo`: the paper's findings in miniature on a laptop (simulator, tiny model, four methods,
report). See `pipeline.run_demo` and `profiles.PROFILES`."""

from beyondmode.demo.profiles import PROFILES, DemoProfile, DemoRun, get_profile

__all__ = ["PROFILES", "DemoProfile", "DemoRun", "get_profile"]
