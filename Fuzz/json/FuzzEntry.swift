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
    let node = try? parser.parseNode(buffer)
    if let node {
        let text = node.text()
        if (try? parser.parse(text)) == nil { fail("node text does not parse: \(text.prefix(200))") }
    }
    // The node parser (its own scanner, lazy root objects) accepts exactly the texts the value parser accepts, and
    // reads the same value: decoded whole, and member by member from the text (a lazy object's reads by key).
    let value = try? parser.parse(buffer)
    if (value == nil) != (node == nil) {
        fail("parse \(value == nil ? "refuses" : "accepts") what parseNode \(node == nil ? "refuses" : "accepts")")
    }
    if let value, let node {
        if case .object(let o) = value, let fresh = try? parser.parseNode(buffer), case .object(let lazy) = fresh {
            for key in o.keys where lazy[key]?.value != o[key] { fail("member \(key.prefix(80)) read from the text differs") }
            for key in ["", "a", "\u{0}", "Event-Name"] where !o.contains(key) && lazy[key] != nil {
                fail("absent member \(key) found in the text")
            }
        }
        if node.value != value { fail("parseNode's value differs from parse's") }
    }
    return 0
}
