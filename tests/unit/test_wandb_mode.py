"""W&B defaults to offline without an API key and never overrides an explicit choice."""

import pytest

from reaction.tracking.wandb_mode import ensure_wandb_mode


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "offline"),
        ({"WANDB_API_KEY": "x" * 40}, "online"),
        ({"WANDB_MODE": "disabled", "WANDB_API_KEY": "x" * 40}, "disabled"),
        ({"WANDB_MODE": "offline"}, "offline"),
    ],
)
def test_mode_follows_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict, expected: str
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert ensure_wandb_mode() == expected
