// libFuzzer entry point for the ESL codec (SwitchyardESL): the frame parser fed the input in chunks, every frame's
// event decoded (JSON, plain or XML body), the event decoders on the raw input, the command parser (the simulator's
// side) and the ESL URL parser. Built with the codec's sources in one module (see Fuzz/build.sh).

@inline(never)
private func fail(_ what: String) -> Never {
    fatalError("ESL invariant violated: \(what)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    // Frames, the input split at a point taken from its first byte: the split must not change the frames.
    var whole = ESLParser(maxBodyBytes: 1 << 16, maxHeaderBytes: 1 << 16)
    let a = (try? whole.feed(bytes)) ?? nil
    var split = ESLParser(maxBodyBytes: 1 << 16, maxHeaderBytes: 1 << 16)
    let cut = size == 0 ? 0 : Int(bytes[0]) % (size + 1)
    var b: [ESLFrame]? = []
    do { b = try split.feed(bytes[..<cut]) + split.feed(bytes[cut...]) } catch { b = nil }
    if let a, let b, a.count != b.count { fail("a split input gave \(b.count) frames, whole \(a.count)") }
    for f in a ?? [] {
        _ = (f.contentType, f.contentTypeString, f.replyText, f.jobUUID, f.bodyString, f.isError)
        if let e = try? f.event() { _ = (e.name, e.subclass, e["Unique-ID"]) }
    }

    // The body decoders on their own.
    _ = try? ESLEvent.decode(json: bytes)
    _ = try? ESLEvent.decode(plain: bytes)
    _ = try? ESLEvent.decode(xml: bytes)

    // The server side: commands.
    var commands = ESLCommandParser(maxBodyBytes: 1 << 16, maxHeaderBytes: 1 << 16)
    if let cs = try? commands.feed(bytes) { for c in cs { _ = (c.line, c.arguments, c.encoded()) } }

    // URLs: the password never in the description.
    let text = String(decoding: bytes.prefix(512), as: UTF8.self)
    if let u = try? ESLBoxURL.parse(text) {
        if let pw = u.password, !pw.isEmpty, u.description.contains(":" + pw + "@") { fail("password in a URL's description") }
    }
    return 0
}
