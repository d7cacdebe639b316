"""The codecs' physical encoders (world values → frame bytes, what the simulator sends): each frame decodes, with
the model's own decoder, to the values within the device's resolution.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.codecs import (
    bosch_tps110,
    decentlab_dl_ac,
    decentlab_dl_pm,
    elsys_ers_co2,
    imbuildings_people_counter,
    milesight_vs133,
    milesight_vs135,
    nwave_nps405,
)
from devices.codecs.base import CodecError, DecodeResult

ADC_STEP_MV = 3000 / 32768  # one word of the DL-AC's converter


def decoded(result: DecodeResult) -> dict[str, object]:
    assert result["errors"] == [], result
    assert result["warnings"] == [], result
    return result["data"]


# Parking -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "reported", "error"),
    [(0, 0, 0), (45, 45, 0), (89, 89, 0), (90, 90, 4), (97, 95, 4), (239, 235, 4), (240, 240, 59),
     (301, 300, 59), (659, 600, 59)],
)
def test_nwave_status_compresses_the_previous_state(minutes: int, reported: int, error: int) -> None:
    data = decoded(nwave_nps405.decode(1, nwave_nps405.encode_status(True, minutes)))
    assert data == {"type": "parking_status", "occupied": True, "previous_state_duration": reported,
                    "previous_state_duration_error": error, "previous_state_duration_overflow": False}
    assert reported <= minutes <= reported + max(error, 59 if minutes >= 600 else error)


@pytest.mark.parametrize("minutes", [660, 5000])
def test_nwave_status_overflows_after_eleven_hours(minutes: int) -> None:
    data = decoded(nwave_nps405.decode(1, nwave_nps405.encode_status(False, minutes)))
    assert data["occupied"] is False
    assert data["previous_state_duration_overflow"] is True


@given(st.booleans(), st.floats(2.5, 3.52), st.floats(-54.0, 73.5))
def test_nwave_heartbeat_round_trip(occupied: bool, volts: float, celsius: float) -> None:
    frame = nwave_nps405.encode_heartbeat(occupied, volts, celsius)
    data = decoded(nwave_nps405.decode(2, frame))
    assert len(frame) == nwave_nps405.HEARTBEAT_SIZE
    assert data["occupied"] is occupied
    assert data["hw_health_status"] == int(occupied)
    assert data["battery_voltage"] == pytest.approx(volts, abs=0.002 + 1e-9)
    assert data["temperature"] == pytest.approx(celsius, abs=0.25 + 1e-9)


def test_nwave_heartbeat_clips_to_the_registers() -> None:
    data = decoded(nwave_nps405.decode(2, nwave_nps405.encode_heartbeat(False, 1.0, 200.0)))
    assert data["battery_voltage"] == 2.5
    assert data["temperature"] == 73.5
    assert data["battery_health"] == "critical"


@pytest.mark.parametrize("cause", ["power_on", "watchdog", "brownout"])
def test_nwave_startup_round_trip(cause: str) -> None:
    data = decoded(nwave_nps405.decode(3, nwave_nps405.encode_startup("2.4.9", cause, True)))
    assert data == {"type": "startup", "firmware_version": "2.4.9", "reset_cause": cause, "occupied": True}


@given(st.booleans(), st.floats(-200.0, 200.0))
def test_bosch_status_and_heartbeat_round_trip(occupied: bool, celsius: float) -> None:
    assert decoded(bosch_tps110.decode(1, bosch_tps110.encode_status(occupied)))["occupied"] is occupied
    data = decoded(bosch_tps110.decode(2, bosch_tps110.encode_heartbeat(occupied, celsius)))
    assert data["occupied"] is occupied
    assert data["temperature"] == min(127, max(-128, round(celsius)))


def test_bosch_startup_round_trip() -> None:
    data = decoded(bosch_tps110.decode(3, bosch_tps110.encode_startup("0.29.2", "power on", False)))
    assert data == {"type": "startup", "debugCodes": [], "firmwareVersion": "0.29.2", "resetCause": "power on",
                    "occupied": False}


def test_startup_refuses_a_malformed_firmware_version() -> None:
    with pytest.raises(CodecError):
        nwave_nps405.encode_startup("2.4", "watchdog", False)
    with pytest.raises(CodecError):
        bosch_tps110.encode_startup("0.29.300", "watchdog", False)


# People counters -----------------------------------------------------------------------------------------------

COUNTS = st.tuples(st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 10**6), st.integers(0, 10**6))


@given(COUNTS, st.integers(1, 4))
def test_milesight_counts_decode_on_both_models(counts: tuple[int, int, int, int], line: int) -> None:
    total_in, total_out, period_in, period_out = counts
    frame = milesight_vs133.encode_counts(total_in, total_out, period_in, period_out, line=line)
    assert frame == milesight_vs135.encode_counts(total_in, total_out, period_in, period_out, line=line)
    expected = {"total_in": total_in % 2**32, "total_out": total_out % 2**32,
                "period_in": min(period_in, 65535), "period_out": min(period_out, 65535)}
    assert decoded(milesight_vs133.decode(85, frame)) == {f"line_{line}": expected}
    assert decoded(milesight_vs135.decode(85, frame)) == {f"line_{line}_{k}": v for k, v in expected.items()}


@given(COUNTS, st.floats(0.0, 6.0), st.integers(0, 10**6))
def test_imbuildings_counts_round_trip(counts: tuple[int, int, int, int], volts: float, sent: int) -> None:
    total_in, total_out, period_in, period_out = counts
    frame = imbuildings_people_counter.encode_counts(
        "70b3d5e75e00aa01", period_in=period_in, period_out=period_out, total_in=total_in, total_out=total_out,
        battery_voltage=volts, payload_counter=sent,
    )
    data = decoded(imbuildings_people_counter.decode(1, frame))
    assert data["device_id"] == "70b3d5e75e00aa01"
    assert data["device_type_variant"] == 6
    assert (data["counter_a"], data["counter_b"]) == (min(period_in, 65535), min(period_out, 65535))
    assert (data["total_counter_a"], data["total_counter_b"]) == (total_in % 65536, total_out % 65536)
    assert data["payload_counter"] == sent % 256
    assert data["battery_voltage"] == pytest.approx(volts, abs=0.005 + 1e-9)


def test_imbuildings_refuses_a_bad_device_id() -> None:
    with pytest.raises(CodecError, match="16 hex digits"):
        imbuildings_people_counter.encode_counts("70b3", period_in=0, period_out=0, total_in=0, total_out=0,
                                                 battery_voltage=3.0, payload_counter=0)


# Air ---------------------------------------------------------------------------------------------------------


def _value(data: dict[str, object], key: str) -> float:
    reading = data[key]
    assert isinstance(reading, dict)
    return float(reading["value"])


@given(st.floats(-40.0, 80.0), st.floats(0.0, 100.0), st.floats(0.0, 800.0), st.floats(85_000.0, 105_000.0))
def test_dl_pm_reading_round_trip(celsius: float, humidity: float, pm: float, pascal: float) -> None:
    frame = decentlab_dl_pm.encode_reading(
        4711, battery_voltage=3.05, mass=(pm * 0.8, pm, pm * 1.1, pm * 1.3), particle_size=512.4,
        number=(pm * 6.8, pm * 7.7, pm * 7.8, pm * 7.8, pm * 7.8), temperature=celsius, humidity=humidity,
        pressure=pascal,
    )
    data = decoded(decentlab_dl_pm.decode(1, frame))
    assert data["device_id"] == 4711
    assert _value(data, "battery_voltage") == 3.05
    assert _value(data, "pm2_5_mass_concentration") == pytest.approx(pm, abs=0.05 + 1e-9)
    assert _value(data, "pm10_number_concentration") == pytest.approx(pm * 7.8, abs=0.05 + 1e-9)
    assert _value(data, "typical_particle_size") == 512
    assert _value(data, "air_temperature") == pytest.approx(celsius, abs=175.72 / 65536)
    assert _value(data, "air_humidity") == pytest.approx(humidity, abs=125 / 65536)
    assert _value(data, "barometric_pressure") == pytest.approx(pascal, abs=1.0)


def test_dl_pm_needs_every_concentration() -> None:
    with pytest.raises(CodecError, match="4 mass and 5 number"):
        decentlab_dl_pm.encode_reading(1, battery_voltage=3.0, mass=(1.0,), particle_size=1.0, number=(1.0,) * 5,
                                       temperature=20.0, humidity=50.0, pressure=100_000.0)


@given(st.fixed_dictionaries({gas: st.floats(0.0, 500.0) for gas in decentlab_dl_ac.GASES}), st.floats(-20, 40))
def test_dl_ac_reading_round_trip(ppb: dict[str, float], celsius: float) -> None:
    drift = {gas: 0.5 * (celsius - 20.0) for gas in decentlab_dl_ac.GASES}
    frame = decentlab_dl_ac.encode_reading(7, temperature=celsius, humidity=60.0, ppb=ppb, battery_voltage=3.6,
                                           aux_drift_mv=drift)
    data = decoded(decentlab_dl_ac.decode(1, frame))
    assert _value(data, "battery_voltage") == 3.6
    assert _value(data, "air_temperature") == pytest.approx(celsius, abs=175.72 / 65536)
    for channel, gas in zip((4, 5, 6, 7), decentlab_dl_ac.GASES, strict=True):
        cal = decentlab_dl_ac.CALIBRATION[gas]
        resolution = ADC_STEP_MV / cal.sensitivity  # ppb per word
        aux = _value(data, f"ch{channel}_{gas}_concentration_we_aux")
        assert aux == pytest.approx(ppb[gas], abs=resolution / 2 + 1e-9)
        # the working electrode alone also reads the auxiliary electrode's drift
        we = _value(data, f"ch{channel}_{gas}_concentration_we")
        assert we == pytest.approx(aux + drift[gas] / cal.sensitivity, abs=resolution)


@given(st.floats(-30.0, 60.0), st.floats(0.0, 100.0), st.floats(0.0, 2000.0), st.integers(0, 300),
       st.floats(300.0, 6000.0), st.floats(2500.0, 3700.0))
def test_elsys_climate_round_trip(celsius: float, humidity: float, lux: float, motion: int, co2: float,
                                  vdd: float) -> None:
    frame = elsys_ers_co2.encode_climate(temperature=celsius, humidity=humidity, light=lux, motion=motion, co2=co2,
                                         vdd=vdd)
    data = decoded(elsys_ers_co2.decode(5, frame))
    assert data["temperature"] == pytest.approx(celsius, abs=0.05 + 1e-9)
    assert (data["humidity"], data["light"], data["co2"], data["vdd"]) == (
        round(humidity), round(lux), round(co2), round(vdd))
    assert data["motion"] == min(255, motion)
