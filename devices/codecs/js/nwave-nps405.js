// Nwave NPS405 parking sensor in the TTN Device Repository codec form.
//
// fPort 1  parking status: byte 0 bit 0 occupied, bits 7..1 compressed duration of the previous state (min)
// fPort 2  heartbeat: byte 0 bit 0 occupied, bits 6..0 hardware health; byte 1 battery (2500 + 4x mV);
//          byte 2 temperature (signed, x/2 + 10 degC); further bytes are not decoded
// fPort 3  startup: firmware major, minor, patch; reset cause; byte 4 bit 0 occupied
// fPort 6  debug: raw bytes
// fPort 10 SDI tag registration: status byte as on fPort 1, then the 4-byte tag id; newer firmware puts
//          the tag's battery (x/10 V) between the two (6-byte frame)

var PORTS = [1, 2, 3, 6, 10];
var RESET_CAUSES = {
  0: "rejoining_lorawan_network",
  1: "watchdog",
  2: "power_on",
  3: "user_request",
  6: "brownout",
  7: "other"
};

function tooShort(what, bytes, needed) {
  return { errors: [what + " needs " + needed + " bytes, got " + bytes.length] };
}

// Expands the 7-bit compressed duration into value (min), error bound and overflow flag.
function previousState(compressed) {
  if (compressed < 90) {
    return { duration: compressed, error: 0, overflow: false };
  }
  if (compressed < 120) {
    return { duration: 90 + (compressed - 90) * 5, error: 4, overflow: false };
  }
  if (compressed < 127) {
    return { duration: 240 + (compressed - 120) * 60, error: 59, overflow: false };
  }
  return { duration: 660, error: null, overflow: true };
}

function addPreviousState(data, status) {
  var state = previousState(status >> 1);
  data.previous_state_duration = state.duration;
  data.previous_state_duration_error = state.error;
  data.previous_state_duration_overflow = state.overflow;
}

function batteryHealth(millivolts, temperature) {
  var critical = temperature >= -5 ? 2900 : 2800;
  var low = temperature >= -5 ? 3000 : 2900;
  if (millivolts >= low) {
    return "normal";
  }
  return millivolts >= critical ? "low" : "critical";
}

function decodeStatus(bytes) {
  if (bytes.length < 1) {
    return tooShort("parking status", bytes, 1);
  }
  var data = { type: "parking_status", occupied: (bytes[0] & 1) === 1 };
  addPreviousState(data, bytes[0]);
  return { data: data };
}

function decodeHeartbeat(bytes) {
  if (bytes.length < 3) {
    return tooShort("heartbeat", bytes, 3);
  }
  var millivolts = 2500 + bytes[1] * 4;
  var temperature = ((bytes[2] << 24) >> 24) / 2 + 10;
  return {
    data: {
      type: "heartbeat",
      occupied: (bytes[0] & 1) === 1,
      hw_health_status: bytes[0] & 0x7f,
      temperature: temperature,
      battery_voltage: millivolts / 1000,
      battery_health: batteryHealth(millivolts, temperature)
    }
  };
}

function decodeStartup(bytes) {
  if (bytes.length < 5) {
    return tooShort("startup", bytes, 5);
  }
  var data = { type: "startup", firmware_version: bytes[0] + "." + bytes[1] + "." + bytes[2] };
  var warnings = [];
  if (RESET_CAUSES.hasOwnProperty(bytes[3])) {
    data.reset_cause = RESET_CAUSES[bytes[3]];
  } else {
    warnings.push("unknown reset cause " + bytes[3]);
  }
  data.occupied = (bytes[4] & 1) === 1;
  return { data: data, warnings: warnings };
}

function decodeRegistration(bytes) {
  if (bytes.length < 5) {
    return tooShort("tag registration", bytes, 5);
  }
  var data = { type: "user_registration" };
  if ((bytes[0] & 1) === 1) {
    data.occupied = true;
    addPreviousState(data, bytes[0]);
  } else {
    data.occupied = null;
    data.previous_state_duration = null;
    data.previous_state_duration_error = null;
    data.previous_state_duration_overflow = null;
  }
  var id = bytes.length >= 6 ? 2 : 1;
  if (bytes.length >= 6) {
    data.tag_battery_voltage = bytes[1] / 10;
  }
  var tag = (bytes[id] << 24) | (bytes[id + 1] << 16) | (bytes[id + 2] << 8) | bytes[id + 3];
  data.tag_id = tag.toString(16).toUpperCase();
  return { data: data };
}

function decodeUplink(input) {
  var bytes = input.bytes;
  switch (input.fPort) {
    case 1:
      return decodeStatus(bytes);
    case 2:
      return decodeHeartbeat(bytes);
    case 3:
      return decodeStartup(bytes);
    case 6:
      return { data: { type: "debug", bytes: bytes.slice() } };
    case 10:
      return decodeRegistration(bytes);
    default:
      return { errors: ["unknown fPort " + input.fPort + "; this model sends on fPort " + PORTS.join(", ")] };
  }
}
