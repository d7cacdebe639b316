// Decentlab DL-AC air quality station (NO2, NO, Ox and CO electrochemical cells, air temperature and
// humidity) in the TTN Device Repository codec form.
//
// Decentlab protocol 2 on fPort 1 (big-endian): version byte (2), device id (uint16), flags (uint16), then
// for each set flag bit, lowest first, the run of uint16 words of that bit's sensor:
//   bit 0, 2 words:    air temperature 175.72 x / 65536 - 46.85 degC, humidity 125 x / 65536 - 6 %
//   bits 1-4, 2 words: one gas cell per bit (CH4 NO2, CH5 NO, CH6 Ox, CH7 CO): working electrode "we" and
//                      working minus auxiliary electrode "we-aux", both 3000 (x / 32768 - 1) mV, and from
//                      them the concentrations (ppb) (we - WE_0) / S and (we-aux - WE_0 + AUX_0) / S
//   bit 5, 1 word:     battery voltage, x/1000 V
// Every reading is {displayName, value, unit}. Unknown flag bits and trailing bytes give a warning.
//
// The concentrations need each cell's calibration from the station's sheet: zero offsets WE_0 and AUX_0
// (mV) and sensitivity S (mV/ppb). addGasCell holds the parameters Decentlab publishes with its decoder;
// a station with other cells needs its own values there.

var MODEL = "DL-AC";
var PORT = 1;
var PROTOCOL_VERSION = 2;
var HEADER_SIZE = 5;
var SENSORS = 6; // flag bits 0..5; bits 1-4 are the gas cells

function reading(displayName, value, unit) {
  return { displayName: displayName, value: value, unit: unit };
}

function uint16(bytes, offset) {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

// The voltage (mV) of a raw ADC word.
function millivolts(x) {
  return 3 * (x / 32768 - 1) * 1000;
}

// One gas cell (flag bits 1-4): its two words (we, we-aux) at pos, each read as a voltage and as a
// concentration with the cell's calibration (WE_0 and AUX_0 in mV, S in mV/ppb).
function addGasCell(data, bit, bytes, pos) {
  var we = millivolts(uint16(bytes, pos));
  var weAux = millivolts(uint16(bytes, pos + 2));
  switch (bit) {
    case 1: // CH4 NO2: WE_0 256, AUX_0 227, S 0.256
      data.ch4_no2_we = reading("CH4: NO2 (we)", we, "mV");
      data.ch4_no2_we_aux = reading("CH4: NO2 (we-aux)", weAux, "mV");
      data.ch4_no2_concentration_we = reading("CH4: NO2 concentration (we)", (we - 256) / 0.256, "ppb");
      data.ch4_no2_concentration_we_aux =
        reading("CH4: NO2 concentration (we-aux)", (weAux - 256 + 227) / 0.256, "ppb");
      break;
    case 2: // CH5 NO: WE_0 320, AUX_0 288, S 0.512
      data.ch5_no_we = reading("CH5: NO (we)", we, "mV");
      data.ch5_no_we_aux = reading("CH5: NO (we-aux)", weAux, "mV");
      data.ch5_no_concentration_we = reading("CH5: NO concentration (we)", (we - 320) / 0.512, "ppb");
      data.ch5_no_concentration_we_aux =
        reading("CH5: NO concentration (we-aux)", (weAux - 320 + 288) / 0.512, "ppb");
      break;
    case 3: // CH6 Ox: WE_0 235, AUX_0 200, S 0.345
      data.ch6_ox_we = reading("CH6: Ox (we)", we, "mV");
      data.ch6_ox_we_aux = reading("CH6: Ox (we-aux)", weAux, "mV");
      data.ch6_ox_concentration_we = reading("CH6: Ox concentration (we)", (we - 235) / 0.345, "ppb");
      data.ch6_ox_concentration_we_aux =
        reading("CH6: Ox concentration (we-aux)", (weAux - 235 + 200) / 0.345, "ppb");
      break;
    default: // CH7 CO: WE_0 544, AUX_0 301, S 0.424
      data.ch7_co_we = reading("CH7: CO (we)", we, "mV");
      data.ch7_co_we_aux = reading("CH7: CO (we-aux)", weAux, "mV");
      data.ch7_co_concentration_we = reading("CH7: CO concentration (we)", (we - 544) / 0.424, "ppb");
      data.ch7_co_concentration_we_aux =
        reading("CH7: CO concentration (we-aux)", (weAux - 544 + 301) / 0.424, "ppb");
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
    var size = bit === 5 ? 2 : 4; // the battery has one word, the other sensors two
    if (pos + size > bytes.length) {
      return { errors: ["truncated: flag bit " + bit + " needs " + size + " bytes at byte " + pos] };
    }
    if (bit === 0) {
      data.air_temperature = reading("Air temperature", 175.72 * uint16(bytes, pos) / 65536 - 46.85, "\u00b0C");
      data.air_humidity = reading("Air humidity", 125 * uint16(bytes, pos + 2) / 65536 - 6, "%");
    } else if (bit === 5) {
      data.battery_voltage = reading("Battery voltage", uint16(bytes, pos) / 1000, "V");
    } else {
      addGasCell(data, bit, bytes, pos);
    }
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
