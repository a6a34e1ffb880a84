"""One resolver for model names: offline names, local folders (checked) and hub ids; `beyondmode models`."""

from __future__ import annotations

from pathlib import Path

import pytest

from beyondmode.cli import main
from beyondmode.models import loading
from beyondmode.models.loading import OfflineModel, resolve_model_path


@pytest.fixture()
def fake_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "fake-model"
    built: list[int] = []

    def build() -> Path:
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text("{}")
        built.append(1)
        return folder

    model = OfflineModel(
        name="fake-model",
        description="a fake offline model",
        install="pip install fake",
        folder=build,
        available=lambda: True,
        cached=lambda: (folder / "config.json").is_file(),
    )
    monkeypatch.setitem(loading.OFFLINE_MODELS, "fake-model", lambda: model)
    return folder


def test_hub_ids_pass_through_and_folders_are_checked(tmp_path: Path) -> None:
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_path(tmp_path) == str(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"model directory .*missing not found"):
        resolve_model_path(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="smollm2-135m-instruct"):
        resolve_model_path("./runs/never-written/final")
    with pytest.raises(ValueError, match="warmstart"):
        resolve_model_path("tiny")


def test_offline_name_resolves_to_its_built_folder(fake_offline: Path) -> None:
    assert resolve_model_path("fake-model") == str(fake_offline)


def test_transformers_backend_uses_the_resolver(tmp_path: Path) -> None:
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    with pytest.raises(FileNotFoundError, match="not found"):
        TransformersBackend.from_pretrained(tmp_path / "nothing")


def test_models_command_lists_and_prepares(fake_offline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "fake-model\tinstalled" in listed and "smollm2-135m-instruct" in listed
    assert main(["models", "prepare", "fake-model"]) == 0
    assert str(fake_offline) in capsys.readouterr().out
    assert (fake_offline / "config.json").is_file()
    assert main(["models", "list"]) == 0
    assert "fake-model\tcached" in capsys.readouterr().out
    assert main(["models", "prepare", "no-such-model"]) == 2
    assert "unknown offline model" in capsys.readouterr().out
