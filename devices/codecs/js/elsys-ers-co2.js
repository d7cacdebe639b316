// Elsys ERS CO2 (and the other sensors of the Elsys payload family) in the TTN Device Repository codec form.
//
// A frame is a run of [type][value] items, big-endian. The ERS CO2 sends temperature (0x01, int16/10 degC),
// humidity (0x02, %), light (0x04, lux), motion (0x05, PIR count in the interval), CO2 (0x06, ppm) and
// supply voltage (0x07, mV); the other types of the family are decoded too, 32-bit counters as signed.
// Decoding stops at the first unknown type, with a warning. The data port is configurable (default 5), so
// any application fPort 1..223 is accepted.

var MAX_APP_PORT = 223;
var GRIDEYE_PIXELS = 64;

function hex2(value) {
  return (value < 16 ? "0" : "") + value.toString(16);
}

// Big-endian integers at offset.
function int8(bytes, offset) {
  return (bytes[offset] << 24) >> 24;
}

function uint16(bytes, offset) {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function int16(bytes, offset) {
  return ((bytes[offset] << 24) >> 16) | bytes[offset + 1];
}

function uint24(bytes, offset) {
  return (bytes[offset] << 16) | (bytes[offset + 1] << 8) | bytes[offset + 2];
}

function int32(bytes, offset) {
  return (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
}

// The size in bytes of the value of a type; 0 for a type the codec does not know.
function typeSize(code) {
  switch (code) {
    case 0x02: // humidity
    case 0x05: // motion
    case 0x0d: // digital
    case 0x0f: // accMotion
    case 0x11: // occupancy
    case 0x12: // waterleak
    case 0x1a: // digital2
      return 1;
    case 0x01: // temperature
    case 0x04: // light
    case 0x06: // co2
    case 0x07: // vdd
    case 0x08: // analog1
    case 0x0a: // pulse1
    case 0x0c: // externalTemperature
    case 0x0e: // distance
    case 0x15: // soundPeak, soundAvg
    case 0x16: // pulse2
    case 0x18: // analog2
    case 0x19: // externalTemperature2
    case 0x1c: // tvoc
      return 2;
    case 0x03: // x, y, z
      return 3;
    case 0x0b: // pulseAbs
    case 0x10: // irInternalTemperature, irExternalTemperature
    case 0x14: // pressure
    case 0x17: // pulseAbs2
    case 0x1b: // analogUv
      return 4;
    case 0x09: // lat, long
      return 6;
    case 0x13: // grideye: reference temperature and 8 x 8 pixels
      return 1 + GRIDEYE_PIXELS;
  }
  return 0;
}

// Repeated external temperature 2 readings become a list.
function addExternalTemperature2(data, value) {
  var current = data.externalTemperature2;
  if (current === undefined) {
    data.externalTemperature2 = value;
  } else if (Array.isArray(current)) {
    current.push(value);
  } else {
    data.externalTemperature2 = [current, value];
  }
}

function readGridEye(bytes, offset) {
  var reference = bytes[offset];
  var pixels = [];
  for (var i = 1; i <= GRIDEYE_PIXELS; i++) {
    pixels.push(reference + bytes[offset + i] / 10);
  }
  return pixels;
}

// Reads the value of a known type at offset into data.
function readItem(code, bytes, offset, data) {
  switch (code) {
    case 0x01: data.temperature = int16(bytes, offset) / 10; break;
    case 0x02: data.humidity = bytes[offset]; break;
    case 0x03:
      data.x = int8(bytes, offset);
      data.y = int8(bytes, offset + 1);
      data.z = int8(bytes, offset + 2);
      break;
    case 0x04: data.light = uint16(bytes, offset); break;
    case 0x05: data.motion = bytes[offset]; break;
    case 0x06: data.co2 = uint16(bytes, offset); break;
    case 0x07: data.vdd = uint16(bytes, offset); break;
    case 0x08: data.analog1 = uint16(bytes, offset); break;
    case 0x09:
      data.lat = uint24(bytes, offset);
      data.long = uint24(bytes, offset + 3);
      break;
    case 0x0a: data.pulse1 = uint16(bytes, offset); break;
    case 0x0b: data.pulseAbs = int32(bytes, offset); break;
    case 0x0c: data.externalTemperature = int16(bytes, offset) / 10; break;
    case 0x0d: data.digital = bytes[offset]; break;
    case 0x0e: data.distance = uint16(bytes, offset); break;
    case 0x0f: data.accMotion = bytes[offset]; break;
    case 0x10:
      data.irInternalTemperature = int16(bytes, offset) / 10;
      data.irExternalTemperature = int16(bytes, offset + 2) / 10;
      break;
    case 0x11: data.occupancy = bytes[offset]; break;
    case 0x12: data.waterleak = bytes[offset]; break;
    case 0x13: data.grideye = readGridEye(bytes, offset); break;
    case 0x14: data.pressure = int32(bytes, offset) / 1000; break;
    case 0x15:
      data.soundPeak = bytes[offset];
      data.soundAvg = bytes[offset + 1];
      break;
    case 0x16: data.pulse2 = uint16(bytes, offset); break;
    case 0x17: data.pulseAbs2 = int32(bytes, offset); break;
    case 0x18: data.analog2 = uint16(bytes, offset); break;
    case 0x19: addExternalTemperature2(data, int16(bytes, offset) / 10); break;
    case 0x1a: data.digital2 = bytes[offset]; break;
    case 0x1b: data.analogUv = int32(bytes, offset); break;
    case 0x1c: data.tvoc = uint16(bytes, offset); break;
  }
}

function decodeUplink(input) {
  var bytes = input.bytes;
  if (!(input.fPort >= 1 && input.fPort <= MAX_APP_PORT)) {
    var ports = "; Elsys sensors send on an application fPort 1.." + MAX_APP_PORT;
    return { errors: ["unknown fPort " + input.fPort + ports] };
  }
  var data = {};
  var warnings = [];
  var found = false;
  var pos = 0;
  while (pos < bytes.length) {
    var code = bytes[pos];
    var size = typeSize(code);
    if (size === 0) {
      warnings.push("unknown type 0x" + hex2(code) + " at byte " + pos + "; rest ignored");
      break;
    }
    if (pos + 1 + size > bytes.length) {
      var where = "type 0x" + hex2(code) + " at byte " + (pos + 1);
      return { errors: ["truncated value of " + where + ": needs " + size + " bytes"] };
    }
    readItem(code, bytes, pos + 1, data);
    found = true;
    pos += 1 + size;
  }
  if (!found) {
    return { errors: [warnings.length ? warnings[0] : "the frame carries no readings"] };
  }
  return { data: data, warnings: warnings, errors: [] };
}
