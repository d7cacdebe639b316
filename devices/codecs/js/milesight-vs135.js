// Milesight VS135 (and newer VS133 firmware) AI ToF people counter in the TTN Device Repository codec form:
// flat keys (line_1_total_in ...), fPort 85.
//
// A frame is a run of [channel id][channel type][value] items, little-endian:
//   ff 01 / ff 09 / ff 1f / ff 16: protocol, hardware, firmware version, serial number
//   03|06|09|0c d2, 04|07|0a|0d d2: cumulative in / out of lines 1..4 (uint32); 11..1b d2 the same for children
//   05|08|0b|0e cc (13|16|19|1c cc for children): in / out of the last period (2 x uint16)
//   0f e3 / 1d e3: people in regions 1..4 (4 x uint8); 10 e4 / 1e e4: dwell time in one region
//   50 fc: occlusion alarm; 20 ce: a history record; fe / ff / f8 / f9: replies to downlinks
// The child period-out key is named after the line it belongs to: line_<n>_child_period_out.
// Decoding stops at the first unknown channel, with a warning; a truncated item is an error.

var PORT = 85;
var TYPE_TOTAL = 0xd2;
var TYPE_PERIOD = 0xcc;

// Thrown for a frame that cannot be decoded; the text names the byte at fault.
function FrameError(text) {
  this.text = text;
}

function hex2(value) {
  return (value < 16 ? "0" : "") + value.toString(16);
}

// "0xff 0x01": a channel and type as messages name them.
function describe(channel, type) {
  return "0x" + hex2(channel) + " 0x" + hex2(type);
}

// The name of a code in a list of names indexed by code; "unknown" for a code the list does not name.
function label(names, code) {
  return names[code] || "unknown";
}

// A cursor over one frame: take(reader, size, what) moves past size bytes and returns where they start.
function take(reader, size, what) {
  var at = reader.pos;
  if (at + size > reader.bytes.length) {
    throw new FrameError("truncated " + what + " at byte " + at + ": needs " + size + " bytes");
  }
  reader.pos = at + size;
  return at;
}

function u8(reader, what) {
  return reader.bytes[take(reader, 1, what)];
}

function u16(reader, what) {
  var at = take(reader, 2, what);
  return reader.bytes[at] | (reader.bytes[at + 1] << 8);
}

function u32(reader, what) {
  var at = take(reader, 4, what);
  var b = reader.bytes;
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 16777216;
}

// An enable flag: one byte, 0 "disable", 1 "enable".
function enabled(reader, what) {
  var code = u8(reader, what);
  return code === 0 ? "disable" : code === 1 ? "enable" : "unknown";
}

// A reply that only acknowledges a command: one byte, read as "yes".
function yes(reader, what) {
  u8(reader, what);
  return "yes";
}

// The key of a line counter channel, null for other channels. Lines 1..4 are on channels 03..0e, their children
// on 11..1c, three channels per line: total in, total out, and the last period, whose two keys second picks.
function lineKey(channel, second) {
  if (channel > 0x1c) {
    return null; // most other channels: no need to try every case
  }
  switch (channel) {
    case 0x03: return "line_1_total_in";
    case 0x04: return "line_1_total_out";
    case 0x05: return second ? "line_1_period_out" : "line_1_period_in";
    case 0x06: return "line_2_total_in";
    case 0x07: return "line_2_total_out";
    case 0x08: return second ? "line_2_period_out" : "line_2_period_in";
    case 0x09: return "line_3_total_in";
    case 0x0a: return "line_3_total_out";
    case 0x0b: return second ? "line_3_period_out" : "line_3_period_in";
    case 0x0c: return "line_4_total_in";
    case 0x0d: return "line_4_total_out";
    case 0x0e: return second ? "line_4_period_out" : "line_4_period_in";
    case 0x11: return "line_1_child_total_in";
    case 0x12: return "line_1_child_total_out";
    case 0x13: return second ? "line_1_child_period_out" : "line_1_child_period_in";
    case 0x14: return "line_2_child_total_in";
    case 0x15: return "line_2_child_total_out";
    case 0x16: return second ? "line_2_child_period_out" : "line_2_child_period_in";
    case 0x17: return "line_3_child_total_in";
    case 0x18: return "line_3_child_total_out";
    case 0x19: return second ? "line_3_child_period_out" : "line_3_child_period_in";
    case 0x1a: return "line_4_child_total_in";
    case 0x1b: return "line_4_child_total_out";
    case 0x1c: return second ? "line_4_child_period_out" : "line_4_child_period_in";
  }
  return null;
}

// What a line counter channel counts: 0 total in, 1 total out, 2 period in and out.
function lineCounts(channel) {
  return (channel - (channel >= 0x11 ? 0x11 : 0x03)) % 3;
}

function readLine(channel, type, key, reader, out) {
  var counts = lineCounts(channel);
  var child = channel >= 0x11;
  if (type === TYPE_TOTAL && counts === 0) {
    out[key] = u32(reader, child ? "line child_total_in" : "line total_in");
    return true;
  }
  if (type === TYPE_TOTAL && counts === 1) {
    out[key] = u32(reader, child ? "line child_total_out" : "line total_out");
    return true;
  }
  if (type === TYPE_PERIOD && counts === 2) {
    out[key] = u16(reader, "period in");
    out[lineKey(channel, true)] = u16(reader, "period out");
    return true;
  }
  return false;
}

// People in regions 1..4 (4 x uint8), of everyone or of children only.
function readRegionCounts(reader, out, children, what) {
  if (children) {
    out.region_1_child_count = u8(reader, what);
    out.region_2_child_count = u8(reader, what);
    out.region_3_child_count = u8(reader, what);
    out.region_4_child_count = u8(reader, what);
  } else {
    out.region_1_count = u8(reader, what);
    out.region_2_count = u8(reader, what);
    out.region_3_count = u8(reader, what);
    out.region_4_count = u8(reader, what);
  }
}

// History records (channel 20 ce): timestamp, data type, then the value of that channel's item.
function readHistory(reader) {
  var record = { timestamp: u32(reader, "history timestamp") };
  var dataType = u8(reader, "history data type");
  var dwell = null;
  switch (dataType) {
    case 0x10: dwell = "avg_dwell"; break;
    case 0x20: dwell = "max_dwell"; break;
    case 0x1e: dwell = "child_avg_dwell"; break;
    case 0x3c: dwell = "child_max_dwell"; break;
    case 0x0f:
    case 0x1d:
      readRegionCounts(reader, record, dataType === 0x1d, "history region count");
      return record;
  }
  if (dwell !== null) {
    var region = u8(reader, "history region");
    record["region_" + region + "_" + dwell] = u16(reader, "history dwell");
    return record;
  }
  var key = lineKey(dataType, false);
  if (key === null) {
    throw new FrameError("unknown history data type 0x" + hex2(dataType) + " at byte " + (reader.pos - 1));
  }
  if (lineCounts(dataType) === 2) {
    record[key] = u16(reader, "history period");
    record[lineKey(dataType, true)] = u16(reader, "history period");
  } else {
    record[key] = u32(reader, "history counter");
  }
  return record;
}

// Device information (channel ff); false for a type that is not one.
function readInfo(type, reader, out) {
  var at;
  var b = reader.bytes;
  switch (type) {
    case 0x01:
      var version = u8(reader, "ipso_version");
      out.ipso_version = "v" + (version >> 4) + "." + (version & 0x0f);
      return true;
    case 0x09:
      at = take(reader, 2, "hardware_version");
      out.hardware_version = "v" + b[at] + "." + b[at + 1];
      return true;
    case 0x1f:
      at = take(reader, 4, "firmware_version");
      out.firmware_version = "v" + b[at] + "." + b[at + 1] + "." + b[at + 2] + "." + b[at + 3];
      return true;
    case 0x16:
      at = take(reader, 8, "sn");
      var sn = "";
      for (var i = 0; i < 8; i++) {
        sn += hex2(b[at + i]);
      }
      out.sn = sn;
      return true;
  }
  return false;
}

function unknownReply(channel, type, reader) {
  return new FrameError("unknown downlink reply " + describe(channel, type) + " at byte " + (reader.pos - 2));
}

// Replies to downlinks (channel ff / fe); false for a type that is not one.
function readReply(type, reader, out) {
  switch (type) {
    case 0x03: out.report_interval = u16(reader, "report_interval"); break;
    case 0x04: out.confirm_mode_enable = enabled(reader, "confirm_mode_enable"); break;
    case 0x10: out.reboot = yes(reader, "reboot"); break;
    case 0x11: out.timestamp = u32(reader, "timestamp"); break;
    case 0x27: out.clear_history = yes(reader, "clear_history"); break;
    case 0x40: out.adr_enable = enabled(reader, "adr_enable"); break;
    case 0x42: out.wifi_enable = enabled(reader, "wifi_enable"); break;
    case 0x43: out.periodic_report_enable = enabled(reader, "periodic_report_enable"); break;
    case 0x44: out.trigger_report_enable = enabled(reader, "trigger_report_enable"); break;
    case 0x51: out.clear_total_count = yes(reader, "clear_total_count"); break;
    case 0x68: out.history_enable = enabled(reader, "history_enable"); break;
    case 0x69: out.retransmit_enable = enabled(reader, "retransmit_enable"); break;
    case 0x6a:
      var kind = u8(reader, "interval type");
      var value = u16(reader, "interval");
      if (kind === 0) {
        out.retransmit_interval = value;
      } else if (kind === 1) {
        out.resend_interval = value;
      }
      break;
    case 0x6d: out.stop_transmit = yes(reader, "stop_transmit"); break;
    default: return false;
  }
  return true;
}

// Extended replies (channel f9, or f8 followed by the device's result code).
function readExtReply(channel, type, reader, out) {
  var key;
  var reply;
  switch (type) {
    case 0x84:
      key = "sync_time_from_gateway_config";
      reply = { enable: enabled(reader, "enable"), period: u16(reader, "period") };
      break;
    case 0x85:
      key = "rejoin_config";
      reply = { enable: enabled(reader, "enable"), max_count: u8(reader, "max_count") };
      break;
    case 0x86:
      key = "data_rate";
      reply = u8(reader, "data_rate");
      break;
    case 0x87:
      key = "tx_power_level";
      reply = u8(reader, "tx_power_level");
      break;
    case 0x88:
      key = "log_config";
      var logLevels = [null, "fatal", "error", "warning", "debug", "trace"];
      reply = {
        console_log_level: label(logLevels, u8(reader, "console log level")),
        file_log_level: label(logLevels, u8(reader, "file log level"))
      };
      break;
    default:
      throw unknownReply(channel, type, reader);
  }
  if (channel === 0xf8) {
    var result = u8(reader, "result");
    if (result) {
      var request = {};
      request[key] = reply;
      var text = label(["success", "forbidden", "invalid parameter"], result);
      out.device_response_result = { channel_type: type, result: text, request: request };
      return;
    }
  }
  out[key] = reply;
}

// Decodes one item into out; false when the channel is not known.
function readItem(channel, type, reader, out) {
  var key = lineKey(channel, false);
  if (key !== null) {
    return readLine(channel, type, key, reader, out);
  }
  switch (channel) {
    case 0x0f:
    case 0x1d:
      if (type !== 0xe3) {
        return false;
      }
      readRegionCounts(reader, out, channel === 0x1d, "region count");
      return true;
    case 0x10:
    case 0x1e:
      if (type !== 0xe4) {
        return false;
      }
      var prefix = "region_" + u8(reader, "region") + (channel === 0x1e ? "_child_" : "_");
      out[prefix + "avg_dwell"] = u16(reader, "avg dwell");
      out[prefix + "max_dwell"] = u16(reader, "max dwell");
      return true;
    case 0x50:
      if (type !== 0xfc) {
        return false;
      }
      u8(reader, "alarm type");
      var node = u8(reader, "node id");
      var alarm = label(["alarm_released", "alarm_triggered"], u8(reader, "alarm"));
      out[(node === 0 ? "master" : "node_" + node) + "_occlusion_alarm"] = alarm;
      return true;
    case 0x20:
      if (type !== 0xce) {
        return false;
      }
      (out.history || (out.history = [])).push(readHistory(reader));
      return true;
    case 0xff:
    case 0xfe:
      if (channel === 0xff && readInfo(type, reader, out)) {
        return true;
      }
      if (!readReply(type, reader, out)) {
        throw unknownReply(channel, type, reader);
      }
      return true;
    case 0xf8:
    case 0xf9:
      readExtReply(channel, type, reader, out);
      return true;
  }
  return false;
}

function decodeUplink(input) {
  if (input.fPort !== PORT) {
    return { errors: ["unknown fPort " + input.fPort + "; this model sends on fPort " + PORT] };
  }
  var reader = { bytes: input.bytes, pos: 0 };
  var data = {};
  var warnings = [];
  try {
    while (reader.pos < reader.bytes.length) {
      var start = reader.pos;
      var channel = reader.bytes[start]; // there is one, or the loop would have ended
      reader.pos = start + 1;
      var type = u8(reader, "channel type");
      if (!readItem(channel, type, reader, data)) {
        warnings.push("unknown channel " + describe(channel, type) + " at byte " + start + "; rest ignored");
        break;
      }
    }
  } catch (e) {
    if (e instanceof FrameError) {
      return { errors: [e.text] };
    }
    throw e;
  }
  if (Object.keys(data).length === 0) {
    return { errors: [warnings.length ? warnings[0] : "the frame carries no readings"] };
  }
  return { data: data, warnings: warnings, errors: [] };
}
