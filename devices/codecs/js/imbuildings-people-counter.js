// IMBuildings LoRaWAN People Counter (payload type 2) in the TTN Device Repository codec form.
//
// All integers are big-endian. On fPort 1 a frame starts with type (2), variant and the 8-byte device id:
//   variant 5 (19 bytes): status, battery (x/100 V), counter A, counter B (uint16), sensor status,
//                         payload counter
//   variant 6 (23 bytes): status, battery, counter A, counter B, sensor status, total counter A,
//                         total counter B (uint16), payload counter
//   variant 7 (18 bytes): status, battery, sensor status, total counter A, total counter B
// fPort 26 and 27 carry the variant 6 and 7 bodies without that header (13 and 5 bytes).
// Counter A counts one direction through the door and counter B the other; the period counters restart
// each transmission, the totals are cumulative until the device resets them.

var PORTS = [1, 26, 27];
var PEOPLE_COUNTER = 2;
var HEADER_SIZE = 10;
var SIZES = { 5: 19, 6: 23, 7: 18 };
var BARE_SIZES = { 26: 13, 27: 5 };

function uint16(bytes, offset) {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function hex(bytes, start, end) {
  var text = "";
  for (var i = start; i < end; i++) {
    text += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  }
  return text;
}

function addStatusAndBattery(data, bytes, offset) {
  data.device_status = bytes[offset];
  data.battery_voltage = uint16(bytes, offset + 1) / 100;
}

// Variant 6 body: the last 13 bytes of the frame.
function addCounters(data, bytes) {
  var at = bytes.length - 13;
  addStatusAndBattery(data, bytes, at);
  data.counter_a = uint16(bytes, at + 3);
  data.counter_b = uint16(bytes, at + 5);
  data.sensor_status = bytes[at + 7];
  data.total_counter_a = uint16(bytes, at + 8);
  data.total_counter_b = uint16(bytes, at + 10);
  data.payload_counter = bytes[at + 12];
}

// Variant 7 body: the last 5 bytes of the frame.
function addTotals(data, bytes) {
  var at = bytes.length - 5;
  data.sensor_status = bytes[at];
  data.total_counter_a = uint16(bytes, at + 1);
  data.total_counter_b = uint16(bytes, at + 3);
}

function decodeStandard(bytes) {
  if (bytes.length < 2) {
    return { errors: ["people counter frame needs 2 bytes, got " + bytes.length] };
  }
  if (bytes[0] !== PEOPLE_COUNTER) {
    return { errors: ["payload type " + bytes[0] + " is not a people counter (2)"] };
  }
  var variant = bytes[1];
  if (!SIZES.hasOwnProperty(variant)) {
    return { errors: ["people counter variant " + variant + " is not a LoRaWAN variant (5, 6, 7)"] };
  }
  if (bytes.length !== SIZES[variant]) {
    var needs = " needs " + SIZES[variant] + " bytes, got " + bytes.length;
    return { errors: ["people counter variant " + variant + needs] };
  }
  var data = {
    device_type_identifier: PEOPLE_COUNTER,
    device_type: "People Counter",
    device_type_variant: variant,
    device_id: hex(bytes, 2, HEADER_SIZE)
  };
  if (variant === 5) {
    addStatusAndBattery(data, bytes, HEADER_SIZE);
    data.counter_a = uint16(bytes, 13);
    data.counter_b = uint16(bytes, 15);
    data.sensor_status = bytes[17];
    data.payload_counter = bytes[18];
  } else if (variant === 6) {
    addCounters(data, bytes);
  } else {
    addStatusAndBattery(data, bytes, HEADER_SIZE);
    addTotals(data, bytes);
  }
  return { data: data };
}

function decodeUplink(input) {
  var bytes = input.bytes;
  var port = input.fPort;
  if (port === 1) {
    return decodeStandard(bytes);
  }
  if (!BARE_SIZES.hasOwnProperty(port)) {
    return { errors: ["unknown fPort " + port + "; this model sends on fPort " + PORTS.join(", ")] };
  }
  if (bytes.length !== BARE_SIZES[port]) {
    return { errors: ["fPort " + port + " frame needs " + BARE_SIZES[port] + " bytes, got " + bytes.length] };
  }
  var data = {};
  if (port === 26) {
    addCounters(data, bytes);
  } else {
    addTotals(data, bytes);
  }
  return { data: data };
}
