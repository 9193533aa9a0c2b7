// `"Event-Name"` and `"Event-Subclass"` of a JSON event found by a byte scan: the reader routes an event without
// decoding it (the subscriber parses the body anyway, and the reader is the one serial stage of every event).

extension Box {
    /// `"Event-Name":"X"` and `"Event-Subclass":"Y"` of a JSON event body, found by a byte scan; nil when the name is
    /// missing or written with escapes (the caller then decodes the whole event).
    static func scanNames(_ body: [UInt8]) -> (name: String, subclass: String)? {
        func value(of key: StaticString) -> String?? {
            let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
            guard body.count > k.count else { return .none }
            var i = 0
            let last = body.count - k.count
            while i <= last {
                if body[i] == k[0] {
                    var j = 1
                    while j < k.count && body[i + j] == k[j] { j += 1 }
                    if j == k.count {
                        var e = i + k.count
                        let start = e
                        while e < body.count && body[e] != UInt8(ascii: "\"") {
                            if body[e] == UInt8(ascii: "\\") { return .some(nil) }  // escaped: let the decoder do it
                            e += 1
                        }
                        guard e < body.count else { return .some(nil) }
                        return .some(String(decoding: body[start..<e], as: UTF8.self))
                    }
                }
                i += 1
            }
            return .none
        }
        guard case .some(.some(let name)) = value(of: "\"Event-Name\":\""), !name.isEmpty else { return nil }
        switch value(of: "\"Event-Subclass\":\"") {
        case .none: return (name, "")
        case .some(.some(let sub)): return (name, sub)
        case .some(.none): return nil
        }
    }
}
