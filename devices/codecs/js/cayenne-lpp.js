// Cayenne LPP (myDevices Low Power Payload) in the TTN Device Repository codec form.
//
// Frame: repeated [channel u8][type u8][value], big-endian, on any fPort. Keys are named as
// The Things Stack names them: <type>_<channel>, e.g. temperature_3.

var LPP_TYPES = {
  0: { name: "digital_in", size: 1, signed: false, divisor: 1 },
  1: { name: "digital_out", size: 1, signed: false, divisor: 1 },
  2: { name: "analog_in", size: 2, signed: true, divisor: 100 },
  3: { name: "analog_out", size: 2, signed: true, divisor: 100 },
  101: { name: "luminosity", size: 2, signed: false, divisor: 1 },
  102: { name: "presence", size: 1, signed: false, divisor: 1 },
  103: { name: "temperature", size: 2, signed: true, divisor: 10 },
  104: { name: "relative_humidity", size: 1, signed: false, divisor: 2 },
  113: { name: "accelerometer", size: 6, axes: ["x", "y", "z"], divisor: 1000 },
  115: { name: "barometric_pressure", size: 2, signed: false, divisor: 10 },
  134: { name: "gyrometer", size: 6, axes: ["x", "y", "z"], divisor: 100 },
  136: { name: "gps", size: 9 }
};

// Reads size bytes at offset as a big-endian integer.
function readInt(bytes, offset, size, signed) {
  var value = 0;
  for (var i = 0; i < size; i++) {
    value = value * 256 + bytes[offset + i];
  }
  var range = Math.pow(2, 8 * size);
  if (signed && value >= range / 2) {
    value -= range;
  }
  return value;
}

function readValue(type, bytes, offset) {
  if (type.name === "gps") {
    return {
      latitude: readInt(bytes, offset, 3, true) / 10000,
      longitude: readInt(bytes, offset + 3, 3, true) / 10000,
      altitude: readInt(bytes, offset + 6, 3, true) / 100
    };
  }
  if (type.axes) {
    var triple = {};
    for (var i = 0; i < type.axes.length; i++) {
      triple[type.axes[i]] = readInt(bytes, offset + 2 * i, 2, true) / type.divisor;
    }
    return triple;
  }
  return readInt(bytes, offset, type.size, type.signed) / type.divisor;
}

function decodeUplink(input) {
  var bytes = input.bytes;
  var data = {};
  var pos = 0;
  while (pos < bytes.length) {
    if (pos + 2 > bytes.length) {
      return { errors: ["truncated frame: channel/type header at byte " + pos + " is incomplete"] };
    }
    var channel = bytes[pos];
    var type = LPP_TYPES[bytes[pos + 1]];
    if (!type) {
      return { errors: ["unknown Cayenne LPP type " + bytes[pos + 1] + " at byte " + (pos + 1)] };
    }
    if (pos + 2 + type.size > bytes.length) {
      return { errors: ["truncated " + type.name + " value on channel " + channel + ": needs " + type.size + " bytes"] };
    }
    data[type.name + "_" + channel] = readValue(type, bytes, pos + 2);
    pos += 2 + type.size;
  }
  if (pos === 0) {
    return { errors: ["empty payload"] };
  }
  return { data: data, warnings: [], errors: [] };
}
