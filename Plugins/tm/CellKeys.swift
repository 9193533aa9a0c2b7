// The identifying fields of a cell's request, kept in one buffer.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI

/// The matching keys of a transaction's request: one byte buffer (one allocation, one release) instead of a string
/// per field. The matching compares them in place with the core's view of a request; strings are made only for the
/// rare readers (MI, RFC 2543 matching, local To tags, logs).
struct CellKeys {
    enum Field: Int { case method = 0, viaBranch, viaHost, viaTransport, callID, fromTag, ruri, viaValue, from, toURI }
    private let bytes: [UInt8]
    /// End offset of each field in `bytes`, in Field order (a field starts where the one before it ends).
    private let ends: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32)

    /// From the core's view of a request (copied: the view is only valid during the call). The whole-header
    /// fields (R-URI, Via, From, To URI) are kept only for a request without the magic cookie (RFC 2543 matching).
    init(_ i: sy_sip_info) {
        let whole = !MessageKeys.isRFC3261(i.via_branch)
        let parts: (sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str) =
            (i.method, i.via_branch, i.via_host, i.via_transport, i.call_id, i.from_tag,
             whole ? i.ruri : sy_str(), whole ? i.via_value : sy_str(), whole ? i.from : sy_str(), whole ? i.to_uri : sy_str())
        self.init(parts)
    }

    /// From strings (requests made here, t_uac).
    init(_ k: MessageKeys) {
        var all = [k.method, k.viaBranch, k.viaHost, k.viaTransport, k.callID, k.fromTag, k.ruri, k.viaValue, k.from, k.toURI]
        var e = [Int32](repeating: 0, count: 10)
        var buf: [UInt8] = []
        for n in 0..<10 {
            all[n].withUTF8 { buf.append(contentsOf: $0) }
            e[n] = Int32(buf.count)
        }
        bytes = buf
        ends = (e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9])
    }

    private init(_ p: (sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str)) {
        var total = 0
        withUnsafeBytes(of: p) { raw in
            for n in 0..<10 { total += raw.load(fromByteOffset: n * MemoryLayout<sy_str>.stride, as: sy_str.self).len }
        }
        var e: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        // reserveCapacity and appends of typed buffers (memcpy) are specialized; Array(repeating:) and
        // Array(unsafeUninitializedCapacity:) allocate through a runtime entry that looks up generic metadata.
        var buf: [UInt8] = []
        buf.reserveCapacity(total)
        withUnsafeBytes(of: p) { raw in
            withUnsafeMutableBytes(of: &e) { ends in
                for n in 0..<10 {
                    let s = raw.load(fromByteOffset: n * MemoryLayout<sy_str>.stride, as: sy_str.self)
                    if let src = s.s, s.len > 0 {
                        buf.append(contentsOf: UnsafeBufferPointer(start: UnsafeRawPointer(src).assumingMemoryBound(to: UInt8.self),
                                                                   count: s.len))
                    }
                    ends.storeBytes(of: Int32(buf.count), toByteOffset: n * 4, as: Int32.self)
                }
            }
        }
        bytes = buf
        ends = e
    }

    @inline(__always) private func end(_ n: Int) -> Int {
        Int(withUnsafeBytes(of: ends) { $0.load(fromByteOffset: n * 4, as: Int32.self) })
    }

    @inline(__always) func range(_ f: Field) -> Range<Int> {
        let n = f.rawValue
        return (n == 0 ? 0 : end(n - 1))..<end(n)
    }

    func text(_ f: Field) -> String {
        let r = range(f)
        if r.isEmpty { return "" }
        return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    /// Byte equality of a field and a slice of the core's message.
    @inline(__always) func equals(_ f: Field, _ s: sy_str) -> Bool {
        let r = range(f)
        guard r.count == s.len else { return false }
        guard let p = s.s, s.len > 0 else { return true }
        return bytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + r.lowerBound, p, s.len) == 0 }
    }

    /// Byte equality of a field and a string (a method name).
    func equals(_ f: Field, _ t: StaticString) -> Bool {
        let r = range(f)
        guard r.count == t.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + r.lowerBound, t.utf8Start, r.count) == 0 }
    }

    /// ASCII case-insensitive equality of a field and a slice of the core's message (host names).
    func equalsIgnoringCase(_ f: Field, _ s: sy_str) -> Bool {
        let r = range(f)
        guard r.count == s.len else { return false }
        guard let p = s.s, s.len > 0 else { return true }
        let a = UnsafeRawBufferPointer(start: p, count: s.len)
        return bytes.withUnsafeBufferPointer { u in
            for i in 0..<r.count where a[i] != u[r.lowerBound + i] {
                let x = a[i] | 0x20, y = u[r.lowerBound + i] | 0x20
                guard x == y, x >= 97, x <= 122 else { return false }
            }
            return true
        }
    }

    /// The Via branch carries the magic cookie "z9hG4bK" and more, as MessageKeys.isRFC3261 says: a branch of the
    /// cookie alone is matched the RFC 2543 way (as OpenSIPS), so its cell keeps the whole fields for it.
    var hasCookie: Bool {
        let r = range(.viaBranch)
        guard r.count > 7 else { return false }
        return bytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + r.lowerBound, "z9hG4bK", 7) == 0 }
    }
}
