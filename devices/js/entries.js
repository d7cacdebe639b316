// The tail of the function the sandbox compiles a codec into (devices/jscodec.py): the codec's source comes
// first, in the same scope, and this hands its entry points to the runner.
return {decodeUplink: typeof decodeUplink === 'function' ? decodeUplink : null,
        encodeDownlink: typeof encodeDownlink === 'function' ? encodeDownlink : null,
        Decoder: typeof Decoder === 'function' ? Decoder : null,
        Decode: typeof Decode === 'function' ? Decode : null};
