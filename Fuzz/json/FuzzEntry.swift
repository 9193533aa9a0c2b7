// libFuzzer entry point for SwitchyardJSON: the value parser, the prefix parser, the node parser ($json), and the
// serializer. Built with the JSON sources in one module (see Fuzz/build.sh).

@inline(never)
private func fail(_ what: String) -> Never {
    fatalError("JSON invariant violated: \(what)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    let parser = JSONParser(maxDepth: 64)

    // A parsed value serializes to text that parses back to the same value, in both styles.
    if let v = try? parser.parse(buffer) {
        for style in [JSONSerializer.Style.compact, .pretty] {
            let text = JSONSerializer.serialize(v, style: style)
            guard let back = try? parser.parse(text) else { fail("serialized text does not parse: \(text.prefix(200))") }
            if back != v { fail("round trip changed the value: \(text.prefix(200))") }
        }
    }
    // A prefix never claims more bytes than there are.
    if let (_, consumed) = try? parser.parsePrefix(buffer), consumed > size || consumed <= 0 {
        fail("parsePrefix consumed \(consumed) of \(size) bytes")
    }
    // The node tree ($json): its text parses as a value.
    if let node = try? parser.parseNode(buffer) {
        let text = node.text()
        if (try? parser.parse(text)) == nil { fail("node text does not parse: \(text.prefix(200))") }
    }
    return 0
}
