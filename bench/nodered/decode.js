// Node-RED function node: a ChirpStack v4 uplink envelope with a Cayenne LPP payload -> InfluxDB points.
// The same work Stadtpuls ingest does for these messages: parse JSON, base64, LPP, tags, server time in ns.
const env = JSON.parse(msg.payload);
const bytes = Buffer.from(env.data || "", "base64");
const seconds = Math.floor(Date.parse(env.time) / 1000);
const fraction = (env.time.split(".")[1] || "0").replace(/[^0-9].*$/, "").padEnd(9, "0").slice(0, 9);
const ts = String(seconds) + fraction;
const tags = {
    municipality: "Benchstadt", site: "Marktplatz", class: "environment", model: "cayenne-lpp",
    dev_eui: env.deviceInfo.devEui.toUpperCase(),
};
const rx = (env.rxInfo || [])[0] || {};
const points = [{
    measurement: "uplink", tags: tags, timestamp: ts,
    fields: {f_cnt: env.fCnt || 0, f_port: env.fPort || 0, gateways: (env.rxInfo || []).length, rssi: rx.rssi, snr: rx.snr},
}];
let i = 0;
while (i + 1 < bytes.length) {
    const channel = String(bytes[i]);
    const type = bytes[i + 1];
    i += 2;
    if (type === 0x67) {
        points.push({measurement: "temperature", tags: Object.assign({channel: channel}, tags), timestamp: ts,
                     fields: {value: bytes.readInt16BE(i) / 10}});
        i += 2;
    } else if (type === 0x68) {
        points.push({measurement: "humidity", tags: Object.assign({channel: channel}, tags), timestamp: ts,
                     fields: {value: bytes[i] / 2}});
        i += 1;
    } else {
        break;
    }
}
