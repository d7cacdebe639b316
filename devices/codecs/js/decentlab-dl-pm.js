// Decentlab DL-PM particulate matter, air temperature / humidity and barometric pressure sensor in the
// TTN Device Repository codec form.
//
// Decentlab protocol 2 on fPort 1 (big-endian): version byte (2), device id (uint16), flags (uint16), then
// for each set flag bit, lowest first, the run of uint16 words of that bit's sensor:
//   bit 0, 1 word:   battery voltage, x/1000 V
//   bit 1, 10 words: PM1.0 / 2.5 / 4 / 10 mass (x/10 ug/m3), typical particle size (nm),
//                    PM0.5 / 1.0 / 2.5 / 4 / 10 number concentration (x/10 per cm3)
//   bit 2, 2 words:  air temperature 175.72 x / 65536 - 46.85 degC, humidity 125 x / 65536 - 6 %
//   bit 3, 1 word:   barometric pressure, 2 x Pa
// Every reading is {displayName, value[, unit]}. Unknown flag bits and trailing bytes give a warning.

var MODEL = "DL-PM";
var PORT = 1;
var PROTOCOL_VERSION = 2;
var HEADER_SIZE = 5;
var SENSORS = 4; // flag bits 0..3
var MASS = "\u00b5g\u22c5m\u207b\u00b3";

function uint16(bytes, offset) {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function reading(displayName, value, unit) {
  return { displayName: displayName, value: value, unit: unit };
}

// A reading without a unit (number concentrations, per cm3).
function count(displayName, value) {
  return { displayName: displayName, value: value };
}

// The number of words of the sensor behind a flag bit.
function sensorWords(bit) {
  switch (bit) {
    case 0: return 1;
    case 1: return 10;
    case 2: return 2;
  }
  return 1;
}

// The readings of the sensor behind a flag bit, from its run of words at pos; one reading per word, in word order.
function addReadings(data, bit, bytes, pos) {
  switch (bit) {
    case 0:
      data.battery_voltage = reading("Battery voltage", uint16(bytes, pos) / 1000, "V");
      break;
    case 1:
      data.pm1_0_mass_concentration = reading("PM1.0 mass concentration", uint16(bytes, pos) / 10, MASS);
      data.pm2_5_mass_concentration = reading("PM2.5 mass concentration", uint16(bytes, pos + 2) / 10, MASS);
      data.pm4_mass_concentration = reading("PM4 mass concentration", uint16(bytes, pos + 4) / 10, MASS);
      data.pm10_mass_concentration = reading("PM10 mass concentration", uint16(bytes, pos + 6) / 10, MASS);
      data.typical_particle_size = reading("Typical particle size", uint16(bytes, pos + 8), "nm");
      data.pm0_5_number_concentration = count("PM0.5 number concentration", uint16(bytes, pos + 10) / 10);
      data.pm1_0_number_concentration = count("PM1.0 number concentration", uint16(bytes, pos + 12) / 10);
      data.pm2_5_number_concentration = count("PM2.5 number concentration", uint16(bytes, pos + 14) / 10);
      data.pm4_number_concentration = count("PM4 number concentration", uint16(bytes, pos + 16) / 10);
      data.pm10_number_concentration = count("PM10 number concentration", uint16(bytes, pos + 18) / 10);
      break;
    case 2:
      data.air_temperature = reading("Air temperature", 175.72 * uint16(bytes, pos) / 65536 - 46.85, "\u00b0C");
      data.air_humidity = reading("Air humidity", 125 * uint16(bytes, pos + 2) / 65536 - 6, "%");
      break;
    case 3:
      data.barometric_pressure = reading("Barometric pressure", uint16(bytes, pos) * 2, "Pa");
      break;
  }
}

function hex4(value) {
  var text = value.toString(16);
  while (text.length < 4) {
    text = "0" + text;
  }
  return text;
}

function tooShort(bytes) {
  return { errors: ["Decentlab frame needs " + HEADER_SIZE + " bytes, got " + bytes.length] };
}

function decodeUplink(input) {
  var bytes = input.bytes;
  if (input.fPort !== PORT) {
    return { errors: ["unknown fPort " + input.fPort + "; this model sends on fPort " + PORT] };
  }
  if (bytes.length < 1) {
    return tooShort(bytes);
  }
  if (bytes[0] !== PROTOCOL_VERSION) {
    return { errors: ["protocol version " + bytes[0] + " doesn't match v2"] };
  }
  if (bytes.length < HEADER_SIZE) {
    return tooShort(bytes);
  }
  var flags = uint16(bytes, 3);
  var data = { protocol_version: PROTOCOL_VERSION, device_id: uint16(bytes, 1) };
  var pos = HEADER_SIZE;
  for (var bit = 0; bit < SENSORS; bit++) {
    if (!((flags >> bit) & 1)) {
      continue;
    }
    var size = 2 * sensorWords(bit);
    if (pos + size > bytes.length) {
      return { errors: ["truncated: flag bit " + bit + " needs " + size + " bytes at byte " + pos] };
    }
    addReadings(data, bit, bytes, pos);
    pos += size;
  }
  var warnings = [];
  var unknown = flags & ~((1 << SENSORS) - 1);
  if (unknown) {
    warnings.push("flag bits 0x" + hex4(unknown) + " are not " + MODEL + " sensors; ignored");
  }
  if (pos < bytes.length) {
    warnings.push(bytes.length - pos + " trailing bytes ignored");
  }
  return { data: data, warnings: warnings, errors: [] };
}
