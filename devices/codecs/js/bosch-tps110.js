// Bosch TPS110 parking lot sensor (firmware 0.29.x) in the TTN Device Repository codec form.
//
// fPort 1  parking status: byte 0 bit 0 occupied
// fPort 2  heartbeat: byte 0 bit 0 occupied; optional byte 1 temperature (signed, degC)
// fPort 3  startup (17 bytes): three 4-byte debug slots (12-bit code, little-endian, 0 = empty),
//          firmware version bytes 12..14, reset cause byte 15, byte 16 bit 0 occupied
// fPort 4  device information: raw bytes
// fPort 5  device usage: raw bytes
// fPort 6  debug (10 bytes): timestamp int32 LE, 12-bit debug code LE at byte 4,
//          sequence number uint16 LE at byte 8

var PORTS = [1, 2, 3, 4, 5, 6];
var STARTUP_SIZE = 17;
var DEBUG_SIZE = 10;
var DEBUG_SLOTS = 3;
var RESET_CAUSES = {
  1: "watchdog",
  2: "power on",
  3: "system request",
  4: "other"
};
var RAW_TYPES = {
  4: "device information",
  5: "device usage"
};

function tooShort(what, bytes, needed) {
  return { errors: [what + " needs " + needed + " bytes, got " + bytes.length] };
}

function occupied(bytes) {
  return (bytes[0] & 1) === 1;
}

// The 12-bit debug code stored little-endian at offset.
function debugCode(bytes, offset) {
  return ((bytes[offset + 1] & 0x0f) << 8) | bytes[offset];
}

function decodeStatus(bytes) {
  if (bytes.length < 1) {
    return tooShort("parking status", bytes, 1);
  }
  return { data: { type: "parking status", occupied: occupied(bytes) } };
}

function decodeHeartbeat(bytes) {
  if (bytes.length < 1) {
    return tooShort("heartbeat", bytes, 1);
  }
  var data = { type: "heartbeat", occupied: occupied(bytes) };
  if (bytes.length >= 2) {
    data.temperature = (bytes[1] << 24) >> 24;
  }
  return { data: data };
}

function decodeStartup(bytes) {
  if (bytes.length < STARTUP_SIZE) {
    return tooShort("startup", bytes, STARTUP_SIZE);
  }
  var codes = [];
  for (var slot = 0; slot < DEBUG_SLOTS; slot++) {
    var code = debugCode(bytes, 4 * slot);
    if (code) {
      codes.push(code);
    }
  }
  var data = {
    type: "startup",
    debugCodes: codes,
    firmwareVersion: bytes[12] + "." + bytes[13] + "." + bytes[14]
  };
  var warnings = [];
  if (RESET_CAUSES.hasOwnProperty(bytes[15])) {
    data.resetCause = RESET_CAUSES[bytes[15]];
  } else {
    warnings.push("unknown reset cause " + bytes[15]);
  }
  data.occupied = (bytes[16] & 1) === 1;
  return { data: data, warnings: warnings };
}

function decodeDebug(bytes) {
  if (bytes.length < DEBUG_SIZE) {
    return tooShort("debug", bytes, DEBUG_SIZE);
  }
  return {
    data: {
      type: "debug",
      timestamp: bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24),
      debugCode: debugCode(bytes, 4),
      sequenceNumber: bytes[8] | (bytes[9] << 8)
    }
  };
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
    case 4:
    case 5:
      return { data: { type: RAW_TYPES[input.fPort], bytes: bytes.slice() } };
    case 6:
      return decodeDebug(bytes);
    default:
      return { errors: ["unknown fPort " + input.fPort + "; this model sends on fPort " + PORTS.join(", ")] };
  }
}
