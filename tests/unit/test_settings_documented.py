"""Every setting a service reads is in the README's Settings tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from relaygraph.settings import (
    ExecutorSettings,
    GatewaySettings,
    NatsSettings,
    RedisSettings,
    ReviewerSettings,
    RunSettings,
)

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize(
    "cls",
    [NatsSettings, RedisSettings, GatewaySettings, ExecutorSettings, RunSettings, ReviewerSettings],
)
def test_every_setting_is_documented(cls: type[BaseSettings]) -> None:
    text = README.read_text().split("## Settings", 1)[1]
    prefix = cls.model_config.get("env_prefix", "")
    for name, field in cls.model_fields.items():
        var = f"{prefix}{name}".upper()
        assert f"| `{var}` |" in text, f"{var} ({field.description}) is not in README ## Settings"
