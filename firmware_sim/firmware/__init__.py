"""Firmware behaviour per device family: what each sensor sends, when, and on which fPort.

* :mod:`~firmware_sim.firmware.parking`: Nwave NPS405, Bosch TPS110;
* :mod:`~firmware_sim.firmware.footfall`: Milesight VS133 and VS135, IMBuildings people counter;
* :mod:`~firmware_sim.firmware.air`: Decentlab DL-PM and DL-AC, Elsys ERS CO2;
* :mod:`~firmware_sim.firmware.base`: frames, units and report times they share.

Value faults (stuck, spike, drift, implausible, flatline, counter reset) are applied here, to the truth before
encoding; faults of the radio path (offline, garbled, unknown device) are applied in :mod:`firmware_sim.engine`.
"""

from __future__ import annotations

from firmware_sim.firmware.air import AirUnit
from firmware_sim.firmware.base import Frame, Unit
from firmware_sim.firmware.footfall import CounterUnit
from firmware_sim.firmware.parking import ParkingUnit

UNIT_CLASSES: dict[str, type[Unit]] = {"parking": ParkingUnit, "footfall": CounterUnit, "air": AirUnit}

__all__ = ["UNIT_CLASSES", "AirUnit", "CounterUnit", "Frame", "ParkingUnit", "Unit"]
