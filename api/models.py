"""Response models of the API: one naming family per resource (``DevicePublic``, ``DevicesPublic`` ...).

Every field is described, so the OpenAPI document at ``/openapi.json`` explains itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

TIME = "RFC 3339 time with its zone"


class InvalidParam(BaseModel):
    """One parameter that was wrong."""

    name: str = Field(description="The parameter's name, e.g. `start`")
    reason: str = Field(description="What is wrong with it")


class ProblemDetails(BaseModel):
    """An error (RFC 9457, `application/problem+json`)."""

    type: str = Field(description="A URI naming the kind of problem; `about:blank` for plain HTTP errors")
    title: str = Field(description="A short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong in this request, and how to fix it")
    instance: str = Field(description="The path of the request")
    invalid_params: list[InvalidParam] = Field(description="The parameters at fault, if any")


class MunicipalityPublic(BaseModel):
    """A municipality with registered devices."""

    name: str = Field(description="The municipality's name, as the devices are registered with it")
    sites: int = Field(description="Number of sites with devices")
    devices: int = Field(description="Number of registered devices")


class MunicipalitiesPublic(BaseModel):
    """The municipalities the key may see."""

    data: list[MunicipalityPublic] = Field(description="The municipalities, by name")
    count: int = Field(description="Number of entries in `data`")


class SitePublic(BaseModel):
    """A place with devices: a parking lot, a street of the pedestrian zone, an air-quality station."""

    municipality: str = Field(description="The municipality the site belongs to")
    site: str = Field(description="The site's name, unique within its municipality")
    classes: list[str] = Field(description="Device classes at the site (parking, footfall, air_quality, generic)")
    devices: int = Field(description="Number of registered devices at the site")
    lat: float | None = Field(description="WGS84 latitude: the mean of its devices' positions, if any is known")
    lon: float | None = Field(description="WGS84 longitude: the mean of its devices' positions, if any is known")


class SitesPublic(BaseModel):
    """A list of sites."""

    data: list[SitePublic] = Field(description="The sites, by municipality and name")
    count: int = Field(description="Number of entries in `data`")


class DeviceHealth(BaseModel):
    """How the device is doing, judged from its uplinks."""

    status: Literal["online", "offline", "never_seen"] = Field(
        description="`offline` after 1.5 heartbeat intervals without an uplink; `never_seen` without any"
    )
    last_seen: str | None = Field(description=f"Time of the newest uplink ({TIME}), if any")


class DevicePublic(BaseModel):
    """A registered device."""

    dev_eui: str = Field(description="The device's LoRaWAN DevEUI, 16 upper-case hex digits")
    name: str = Field(description="A name for people")
    model: str = Field(description="The device model's id in the catalog")
    device_class: str = Field(description="What the model measures: parking, footfall, air_quality or generic")
    site: str = Field(description="The site the device is installed at")
    municipality: str = Field(description="The municipality the device belongs to")
    lat: float | None = Field(description="WGS84 latitude, if known")
    lon: float | None = Field(description="WGS84 longitude, if known")


class DeviceDetail(DevicePublic):
    """A registered device with its health."""

    health: DeviceHealth = Field(description="Status and last uplink")


class DevicesPublic(BaseModel):
    """A list of devices."""

    data: list[DevicePublic] = Field(description="The devices, by municipality, site and name")
    count: int = Field(description="Number of entries in `data`")


class LatestValue(BaseModel):
    """The newest value of one quantity (and channel) of a device."""

    quantity: str = Field(description="Canonical quantity, e.g. `pm10`")
    channel: str | None = Field(description="Channel or counting line, for devices with several")
    value: float = Field(description="The value, in `unit`")
    unit: str = Field(description="Unit of the quantity")
    time: str = Field(description=f"When it was received ({TIME})")


class RadioPublic(BaseModel):
    """The device's newest uplink as the network server saw it."""

    time: str = Field(description=f"Receive time ({TIME})")
    rssi: float | None = Field(description="Best received signal strength, dBm")
    snr: float | None = Field(description="Signal-to-noise ratio of that reception, dB")
    f_cnt: int | None = Field(description="Uplink frame counter")


class DeviceLatest(BaseModel):
    """A device with its newest values."""

    device: DevicePublic = Field(description="The device")
    values: list[LatestValue] = Field(description="Newest value of each quantity and channel")
    last_uplink: RadioPublic | None = Field(description="The newest uplink's radio record, if any")


class TimeseriesPoint(BaseModel):
    """One value of a series: a raw reading, or the aggregate of one interval."""

    time: str = Field(description=f"The reading's time, or the start of the interval ({TIME})")
    value: float | None = Field(description="The value, in the unit of the page")
    dev_eui: str | None = Field(description="The device, for raw readings and device series")
    channel: str | None = Field(description="The channel or counting line, where the device has several")


class TimeseriesPage(BaseModel):
    """One page of a time series; follow `next` for the rest."""

    quantity: str = Field(description="The canonical quantity")
    unit: str = Field(description="Unit of the values")
    every: str | None = Field(description="Interval of the aggregates; null for raw readings")
    agg: str | None = Field(description="Aggregate of each interval; null for raw readings")
    tz: str = Field(description="Time zone of interval boundaries (days, weeks) and of the times given")
    source: str = Field(description="`raw`, or the processed rollup the values come from")
    data: list[TimeseriesPoint] = Field(description="The points in time order")
    count: int = Field(description="Number of points on this page")
    next_cursor: str | None = Field(description="Pass as `cursor` (with the same parameters) for the next page")
    next: str | None = Field(description="The full path and query of the next page, or null on the last page")


class Check(BaseModel):
    """One dependency's health."""

    ok: bool = Field(description="Whether the dependency answered")
    detail: str | None = Field(default=None, description="What was found (technician and admin keys only)")


class Health(BaseModel):
    """The platform's health: every dependency must be reachable."""

    status: str = Field(description="`ok` or `unavailable`")
    checks: dict[str, Check] = Field(description="One check per dependency (`influxdb`, `registry`)")


class KeyPublic(BaseModel):
    """An API key, without its secret."""

    id: int = Field(description="The key's id (for revoking it)")
    name: str = Field(description="Who holds it, or what it is for")
    role: str = Field(description="reader, technician or admin")
    municipality: str | None = Field(description="The municipality it sees; null for every one")
    prefix: str = Field(description="The first characters of the key, to recognise it")
    created_at: str = Field(description=f"Creation time ({TIME})")
    expires_at: str | None = Field(description=f"Expiry ({TIME}), if any")
    revoked_at: str | None = Field(description=f"Revocation time ({TIME}), if revoked")
    last_used_at: str | None = Field(description=f"Last use, to the minute ({TIME})")


class KeysPublic(BaseModel):
    """Every API key."""

    data: list[KeyPublic] = Field(description="The keys, oldest first")
    count: int = Field(description="Number of entries in `data`")


class WhoAmI(BaseModel):
    """The caller as the API sees it."""

    key_id: int | None = Field(description="The key's id; null without a key")
    name: str = Field(description="The key's name")
    role: str | None = Field(description="reader, technician or admin")
    municipality: str | None = Field(description="The municipality the key sees; null for every one")


class Geometry(BaseModel):
    """A GeoJSON point."""

    type: Literal["Point"] = Field(description="Always `Point`")
    coordinates: list[float] = Field(description="Longitude and latitude (WGS84), in that order")


class Feature(BaseModel):
    """A GeoJSON feature: a site or a device."""

    type: Literal["Feature"] = Field(description="Always `Feature`")
    id: str = Field(description="The DevEUI, or `municipality/site`")
    geometry: Geometry | None = Field(description="Where it is; null if its position is not known")
    properties: dict[str, Any] = Field(description="Name, class, status and latest public values")


class FeatureCollection(BaseModel):
    """Sites or devices as GeoJSON, with the licence of the data."""

    type: Literal["FeatureCollection"] = Field(description="Always `FeatureCollection`")
    features: list[Feature] = Field(description="One feature per site or device")
    licence: str = Field(description="Licence of the data (SPDX id)")
    attribution: str = Field(description="Attribution the licence asks for")


class OpenData(BaseModel):
    """Fields every open-data answer carries."""

    licence: str = Field(description="Licence of the data (SPDX id)")
    attribution: str = Field(description="Attribution the licence asks for")


class ParkingLot(BaseModel):
    """A parking lot now, with fields named as in FIWARE's `OffStreetParking`."""

    id: str = Field(description="`municipality/site`")
    name: str = Field(description="The lot's site name")
    municipality: str = Field(description="The municipality of the lot")
    totalSpotNumber: int = Field(description="Bays with a sensor")
    availableSpotNumber: int = Field(description="Bays known to be free")
    occupiedSpotNumber: int = Field(description="Bays known to be occupied")
    unknownSpotNumber: int = Field(description="Bays whose sensor was not heard from lately")
    occupancy: float | None = Field(description="Occupied share of the bays whose state is known, 0..1")
    dateObserved: str = Field(description=f"When the availability was computed ({TIME})")


class ParkingLots(OpenData):
    """Availability of every lot now."""

    data: list[ParkingLot] = Field(description="The lots, by municipality and name")
    count: int = Field(description="Number of entries in `data`")


class OccupancyPoint(BaseModel):
    """A lot's occupancy over one interval."""

    time: str = Field(description=f"Start of the interval ({TIME})")
    municipality: str = Field(description="The municipality of the lot")
    occupancy: float | None = Field(description="Time-weighted occupied share of the known bay time, 0..1")
    coverage: float | None = Field(description="Share of the bay time whose state was known, 0..1")
    bays: int | None = Field(description="Bays with a sensor")


class OccupancySeries(BaseModel):
    """A lot's occupancy per interval."""

    site: str = Field(description="The lot's site name")
    every: str = Field(description="Interval length: 15m, 1h, 1d or 1w (days and weeks are local)")
    tz: str = Field(description="Zone of day and week boundaries and of the times given")
    data: list[OccupancyPoint] = Field(description="One point per interval, in time order")
    count: int = Field(description="Number of entries in `data`")


class FootfallPoint(BaseModel):
    """People counted at a site in one direction over one interval."""

    time: str = Field(description=f"Start of the interval ({TIME})")
    municipality: str = Field(description="The municipality of the site")
    direction: str = Field(description="`in` or `out`")
    count: float | None = Field(description="People counted by the counters complete in the interval")
    complete: float | None = Field(description="Share of the site's counters that were complete, 0..1")
    previous_week: float | None = Field(description="Count of the same interval one week earlier (`compare`)")
    last_year: float | None = Field(
        description="Count of the same interval 52 weeks earlier, on the same weekday (`compare`)"
    )


class FootfallSeries(OpenData):
    """Footfall per interval at a site, with totals and comparisons."""

    site: str = Field(description="The site")
    every: str = Field(description="Interval length: 15m, 1h, 1d or 1w (days and weeks are local)")
    tz: str = Field(description="Zone of day and week boundaries and of the times given")
    data: list[FootfallPoint] = Field(description="One point per interval and direction, in time order")
    total: float = Field(description="People in the whole range (all directions asked for)")
    total_previous_week: float | None = Field(description="The same for the range one week earlier (`compare`)")
    total_last_year: float | None = Field(description="The same for the range 52 weeks earlier (`compare`)")


class AirStation(BaseModel):
    """An air-quality station's newest hourly European Air Quality Index."""

    dev_eui: str = Field(description="The station's DevEUI")
    municipality: str = Field(description="The station's municipality")
    site: str = Field(description="The station's site")
    time: str = Field(description=f"Start of the hour ({TIME})")
    index: int | None = Field(
        description="EAQI band: 1 good, 2 fair, 3 moderate, 4 poor, 5 very poor, 6 extremely poor"
    )
    pm2_5: float | None = Field(description="PM2.5 used for the index, µg/m³")
    pm10: float | None = Field(description="PM10 used for the index, µg/m³")
    no2: float | None = Field(description="NO2 hourly mean, µg/m³")
    o3: float | None = Field(description="O3 hourly mean, µg/m³")


class AirStations(OpenData):
    """The EAQI of every station now."""

    bands: str = Field(description="EAQI band table: 2024 (revised) or 2017")
    pm_mean: str = Field(description="PM averaging of the index: 1h or 24h")
    data: list[AirStation] = Field(description="One entry per station")
    count: int = Field(description="Number of entries in `data`")


class EaqiHours(BaseModel):
    """A station's EAQI per hour or per local day."""

    dev_eui: str = Field(description="The station's DevEUI")
    bands: str = Field(description="EAQI band table")
    pm_mean: str = Field(description="PM averaging of the index")
    every: str = Field(description="1h, or 1d (the day's worst hourly index and mean concentrations)")
    data: list[AirStation] = Field(description="One entry per hour or day, in time order")
    count: int = Field(description="Number of entries in `data`")


class Exceedance(BaseModel):
    """A station's exceedances of the EU limit values in one calendar year (Directive 2008/50/EC)."""

    dev_eui: str = Field(description="The station's DevEUI")
    municipality: str = Field(description="The station's municipality")
    site: str = Field(description="The station's site")
    pm10_valid_days: int = Field(description="Days with a valid PM10 daily mean (18 hours or more)")
    pm10_days_over_limit: int = Field(description="Days whose PM10 mean was above 50 µg/m³ (35 allowed a year)")
    no2_valid_hours: int = Field(description="Hours with a valid NO2 mean")
    no2_hours_over_limit: int = Field(description="Hours whose NO2 mean was above 200 µg/m³ (18 allowed a year)")


class Exceedances(BaseModel):
    """Exceedances per station in one year."""

    year: int = Field(description="The calendar year (UTC days, as processing counts them)")
    data: list[Exceedance] = Field(description="One entry per station")
    count: int = Field(description="Number of entries in `data`")
