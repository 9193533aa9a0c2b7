// `"Event-Name"` and `"Event-Subclass"` of a JSON event found by a byte scan: the reader routes an event without
// decoding it (the subscriber parses the body anyway, and the reader is the one serial stage of every event).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension Box {
    /// `"Event-Name":"X"` and `"Event-Subclass":"Y"` of a JSON event body, found by a byte scan; nil when the name is
    /// missing or written with escapes (the caller then decodes the whole event).
    static func scanNames(_ body: [UInt8]) -> (name: String, subclass: String)? {
        body.withUnsafeBufferPointer { b -> (name: String, subclass: String)? in
            guard case .some(.some(let name)) = value(in: b, of: "\"Event-Name\":\""), !name.isEmpty else { return nil }
            switch value(in: b, of: "\"Event-Subclass\":\"") {
            case .none: return (name, "")
            case .some(.some(let sub)): return (name, sub)
            case .some(.none): return nil
            }
        }
    }

    /// The text after the first occurrence of `key` up to the next quote: .none when `key` is absent, .some(nil) when
    /// that text holds an escape or has no closing quote. memmem/memchr: an event without `Event-Subclass` is
    /// searched to its end, once per event on the reader's thread.
    private static func value(in body: UnsafeBufferPointer<UInt8>, of key: StaticString) -> String?? {
        guard let base = body.baseAddress, body.count > key.utf8CodeUnitCount,
              let at = find(key, in: body) else { return .none }
        let start = at + key.utf8CodeUnitCount
        guard let close = memchr(base + start, Int32(UInt8(ascii: "\"")), body.count - start) else { return .some(nil) }
        let end = UnsafeRawPointer(close) - UnsafeRawPointer(base)
        let text = UnsafeBufferPointer(rebasing: body[start..<end])
        if !text.isEmpty, memchr(text.baseAddress!, Int32(UInt8(ascii: "\\")), text.count) != nil { return .some(nil) } // escaped: let the decoder do it
        return .some(String(decoding: text, as: UTF8.self))
    }

    /// Offset of the first occurrence of `key` in `body`: libc's memmem (a GNU extension the Glibc module does not
    /// declare, so looked up once), else a plain search.
    private static func find(_ key: StaticString, in body: UnsafeBufferPointer<UInt8>) -> Int? {
        let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        if let memmem = Memmem.function {
            guard let hit = memmem(body.baseAddress, body.count, k.baseAddress, k.count) else { return nil }
            return UnsafeRawPointer(hit) - UnsafeRawPointer(body.baseAddress!)
        }
        guard body.count >= k.count else { return nil }
        var i = 0
        while i <= body.count - k.count {
            if body[i] == k[0] && memcmp(body.baseAddress! + i, k.baseAddress!, k.count) == 0 { return i }
            i += 1
        }
        return nil
    }
}

/// libc's memmem, if the process has it.
private enum Memmem {
    typealias Function = @convention(c) (UnsafeRawPointer?, Int, UnsafeRawPointer?, Int) -> UnsafeMutableRawPointer?
    static let function: Function? = dlsym(nil, "memmem").map { unsafeBitCast($0, to: Function.self) }
}
