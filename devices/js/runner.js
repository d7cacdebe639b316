// The runner of a codec in the sandbox (devices/jscodec.py), evaluated once per realm.
//
// Called with the compiled codec (a function that runs the codec's top-level code afresh and returns its entry
// points) and whether to isolate calls, it returns run(op, a, b, c) -> a JSON answer
// {result|threw|missing|malformed: ...}, op being "decode", "encode" or "probe".
//
// Isolating: the realm is hardened first (every reachable intrinsic frozen, the few inherited properties sloppy
// code assigns turned into accessors that define an own property, the built-in globals made read-only), and
// after each call the globals it created are deleted; an answer the realm could not be cleaned up after comes
// back as {"dirty": answer} and the caller discards the realm. Not isolating (a fresh realm per call), the
// answer comes back as it is. Answers stay single flat strings: the engine cannot hand concatenated strings
// to Python.
(function (codec, isolate) {
  "use strict";
  var g = globalThis;
  var freeze = Object.freeze, ownKeys = Reflect.ownKeys, getDesc = Object.getOwnPropertyDescriptor;
  var defProp = Object.defineProperty, getProto = Object.getPrototypeOf, isExtensible = Object.isExtensible;
  var deleteProperty = Reflect.deleteProperty, stringify = JSON.stringify, parse = JSON.parse;
  var MakeDate = Date, MakeSet = Set;
  var baseKeys, baseCount, baseProto;  // the global object after hardening (isolating only)

  var TAMED = ["constructor", "toString", "toLocaleString", "valueOf", "toJSON", "name", "message",
               "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"];

  function tame(obj, key, value, enumerable) {
    var accessor = {
      get value() { return value; },
      set value(v) {
        if (this === obj) { throw new TypeError("cannot assign to read-only property '" + key + "'"); }
        defProp(this, key, {value: v, writable: true, enumerable: true, configurable: true});
      }
    };
    var d = getDesc(accessor, "value");
    freeze(d.get);
    freeze(d.set);
    defProp(obj, key, {get: d.get, set: d.set, enumerable: enumerable, configurable: false});
  }

  function reachable(roots) {
    var seen = new MakeSet([g]), found = [], stack = roots.slice(), o, keys, d, i;
    while (stack.length) {
      o = stack.pop();
      if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) { continue; }
      seen.add(o);
      found.push(o);
      stack.push(getProto(o));
      keys = ownKeys(o);
      for (i = 0; i < keys.length; i++) {
        d = getDesc(o, keys[i]);
        if (!d) { continue; }
        if ("value" in d) { stack.push(d.value); } else { stack.push(d.get, d.set); }
      }
    }
    return found;
  }

  function hiddenIntrinsics() {
    var list = [function* () {}, async function () {}, async function* () {}, (function* () {})(),
                (async function* () {})(), [][Symbol.iterator](), new Map()[Symbol.iterator](),
                new Set()[Symbol.iterator](), ""[Symbol.iterator](), "a".matchAll(/a/g), arguments];
    if (typeof Iterator === "function" && typeof Iterator.from === "function") {
      list.push([].values().map(function (x) { return x; }),
                Iterator.from({next: function () { return {done: true, value: undefined}; }}));
    }
    return list;
  }

  function hardenIntrinsics() {
    var keys = ownKeys(g), roots = hiddenIntrinsics(), all, o, d, i, j;
    for (i = 0; i < keys.length; i++) {
      d = getDesc(g, keys[i]);
      if ("value" in d) { roots.push(d.value); } else { roots.push(d.get, d.set); }
    }
    all = reachable(roots);
    for (i = 0; i < all.length; i++) {
      o = all[i];
      if (o !== Object.prototype && !getDesc(o, "constructor")) { continue; }
      for (j = 0; j < TAMED.length; j++) {
        d = getDesc(o, TAMED[j]);
        if (d && "value" in d && d.writable && d.configurable) { tame(o, TAMED[j], d.value, d.enumerable); }
      }
    }
    for (i = 0; i < all.length; i++) { freeze(all[i]); }
  }

  function lockGlobals() {
    var keys = ownKeys(g), d, i;
    for (i = 0; i < keys.length; i++) {
      d = getDesc(g, keys[i]);
      if ("value" in d) { defProp(g, keys[i], {writable: false, configurable: false}); }
      else { defProp(g, keys[i], {configurable: false}); }
    }
  }

  // Deletes the globals a call created; false if the realm cannot be brought back.
  function restore() {
    var keys = ownKeys(g), i;
    if (keys.length !== baseCount) {
      for (i = 0; i < keys.length; i++) {
        if (!baseKeys.has(keys[i]) && !deleteProperty(g, keys[i])) { return false; }
      }
    }
    return getProto(g) === baseProto && isExtensible(g);
  }

  function describe(e) {
    try {
      if (e !== null && typeof e === "object" && typeof e.message === "string") {
        var name = e.name;
        return (typeof name === "string" && name ? name : "Error") + ": " + e.message;
      }
      return "" + e;
    } catch (ignored) {
      return "a value that cannot be printed";
    }
  }

  function entries() {
    var found = codec.call(g);
    if (found === null || typeof found !== "object") { throw new TypeError("codec top level returned early"); }
    return found;
  }

  function decode(text, fPort, recvMs) {
    var bytes = [], n = text.length, i, found = entries();
    for (i = 0; i < n; i++) { bytes[i] = text.charCodeAt(i); }
    if (found.decodeUplink) {
      return {result: found.decodeUplink({bytes: bytes, fPort: fPort, recvTime: new MakeDate(recvMs)})};
    }
    if (found.Decoder) { return {result: {data: found.Decoder(bytes, fPort)}}; }
    if (found.Decode) { return {result: {data: found.Decode(fPort, bytes, {})}}; }
    return {missing: "decodeUplink"};
  }

  function encode(dataJson) {
    var found = entries();
    if (!found.encodeDownlink) { return {missing: "encodeDownlink"}; }
    return {result: found.encodeDownlink({data: parse(dataJson)})};
  }

  function probe() {
    var found = entries();
    return {result: {decodeUplink: !!found.decodeUplink, encodeDownlink: !!found.encodeDownlink,
                     Decoder: !!found.Decoder, Decode: !!found.Decode}};
  }

  function answer(op, a, b, c) {
    var out;
    try {
      out = op === "decode" ? decode(a, b, c) : op === "encode" ? encode(a) : probe();
    } catch (e) {
      return stringify({threw: describe(e)});
    }
    try {
      return stringify(out) || stringify({malformed: "undefined"});
    } catch (e) {
      return stringify({malformed: describe(e)});
    }
  }

  if (!isolate) { return answer; }
  hardenIntrinsics();
  lockGlobals();
  freeze(codec);
  baseKeys = new MakeSet(ownKeys(g));
  baseCount = baseKeys.size;
  baseProto = getProto(g);

  return function run(op, a, b, c) {
    var out = answer(op, a, b, c);
    return restore() ? out : stringify({dirty: out});
  };
})
