// Milesight VS133 AI ToF people counter in the TTN Device Repository codec form: one nested object per
// counting line, {line_1: {total_in, total_out, period_in, period_out}, ...}, on fPort 85.
//
// Items of 6 bytes, [channel id][channel type][value], little-endian, for lines n = 1..4:
//   channel 0x03 + 3 (n - 1), type 0xd2: cumulative in (uint32)
//   channel 0x04 + 3 (n - 1), type 0xd2: cumulative out (uint32)
//   channel 0x05 + 3 (n - 1), type 0xcc: in and out of the last period (2 x uint16)
// Decoding stops at the first other channel, with a warning.

var PORT = 85;
var LINES = 4;
var TYPE_TOTAL = 0xd2;
var TYPE_PERIOD = 0xcc;
var ITEM_SIZE = 6;

function hex2(value) {
  return (value < 16 ? "0" : "") + value.toString(16);
}

// "0x03 0xd2": a channel and type as messages name them.
function describe(channel, type) {
  return "0x" + hex2(channel) + " 0x" + hex2(type);
}

function uint16(bytes, offset) {
  return bytes[offset] | (bytes[offset + 1] << 8);
}

function uint32(bytes, offset) {
  return uint16(bytes, offset) + uint16(bytes, offset + 2) * 65536;
}

// The line (1..4) and kind ("in", "out", "period") of a channel and type, or null if unknown.
function itemKind(channel, type) {
  var index = channel - 0x03;
  if (index < 0 || index >= 3 * LINES) {
    return null;
  }
  var line = Math.floor(index / 3) + 1;
  var kind = ["in", "out", "period"][index % 3];
  if (type !== (kind === "period" ? TYPE_PERIOD : TYPE_TOTAL)) {
    return null;
  }
  return { line: line, kind: kind };
}

function decodeUplink(input) {
  var bytes = input.bytes;
  if (input.fPort !== PORT) {
    return { errors: ["unknown fPort " + input.fPort + "; this model sends on fPort " + PORT] };
  }
  var data = {};
  var warnings = [];
  var found = false;
  for (var pos = 0; pos < bytes.length; pos += ITEM_SIZE) {
    if (pos + 2 > bytes.length) {
      return { errors: ["truncated item header at byte " + pos] };
    }
    var channel = bytes[pos];
    var type = bytes[pos + 1];
    var item = itemKind(channel, type);
    if (item === null) {
      warnings.push("unknown channel " + describe(channel, type) + " at byte " + pos + "; rest ignored");
      break;
    }
    if (pos + ITEM_SIZE > bytes.length) {
      var where = "channel 0x" + hex2(channel) + " at byte " + (pos + 2);
      return { errors: ["truncated value of " + where + ": needs 4 bytes"] };
    }
    var key = "line_" + item.line;
    var line = data[key] || (data[key] = {});
    if (item.kind === "in") {
      line.total_in = uint32(bytes, pos + 2);
    } else if (item.kind === "out") {
      line.total_out = uint32(bytes, pos + 2);
    } else {
      line.period_in = uint16(bytes, pos + 2);
      line.period_out = uint16(bytes, pos + 4);
    }
    found = true;
  }
  if (!found) {
    return { errors: [warnings.length ? warnings[0] : "the frame carries no readings"] };
  }
  return { data: data, warnings: warnings, errors: [] };
}
