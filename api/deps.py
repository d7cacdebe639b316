"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from devices.registry import DeviceRegistry
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _influx(request: Request) -> InfluxClient:
    return request.app.state.influx  # type: ignore[no-any-return]


def _registry(request: Request) -> DeviceRegistry:
    return request.app.state.registry  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(_settings)]
InfluxDep = Annotated[InfluxClient, Depends(_influx)]
RegistryDep = Annotated[DeviceRegistry, Depends(_registry)]
