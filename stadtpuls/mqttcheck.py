"""Is the MQTT broker there? Connect with gmqtt (MQTT 3.1.1), wait for CONNACK, disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl

import gmqtt
from gmqtt.mqtt.constants import MQTTv311
from gmqtt.mqtt.handler import MQTTConnectError

from stadtpuls.settings import MqttTarget

DISCONNECT_TIMEOUT = 1.0  # s to say goodbye after the check; the answer is known by then


async def mqtt_reachable(target: MqttTarget, *, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the broker accepts a connection within ``timeout`` seconds.

    Returns:
        (True, where) when the broker answered CONNACK with "accepted"; else (False, what went wrong:
        unreachable, refused with the broker's reason, or no answer in time).
    """
    where = f"{target.host}:{target.port}"
    client = gmqtt.Client(f"stadtpuls-health-{os.urandom(4).hex()}")
    client.stop_reconnect()  # a health check tries once; gmqtt would otherwise retry refusals in the background
    if target.username:
        client.set_auth_credentials(target.username, target.password)
    try:
        async with asyncio.timeout(timeout):
            await client.connect(target.host, target.port, ssl=target.tls, keepalive=60, version=MQTTv311)
    except MQTTConnectError as exc:
        return False, f"MQTT broker at {where} refused the connection: {exc.message}"
    except TimeoutError:
        return False, f"MQTT broker at {where} did not answer within {timeout:g} s"
    except (OSError, ssl.SSLError) as exc:
        return False, f"MQTT broker at {where} is unreachable: {exc!r}"
    finally:
        await _disconnect(client)
    return True, f"MQTT broker at {where} accepts connections"


async def _disconnect(client: gmqtt.Client) -> None:
    """Close the connection if there is one; nothing the broker does here changes the result."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(DISCONNECT_TIMEOUT):
            await client.disconnect()
