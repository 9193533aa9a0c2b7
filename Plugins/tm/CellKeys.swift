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
    typealias Ends = (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32)
    /// The fields' bytes after a header of their end offsets: one allocation, filled with one memcpy per field (an
    /// array filled with ten `append(contentsOf:)` cost about twice the instructions per transaction).
    final class Storage: ManagedBuffer<Ends, UInt8> {}
    private let storage: Storage
    /// End offset of each field in the bytes, in Field order (a field starts where the one before it ends).
    private var ends: Ends { storage.header }

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
        var buf: [UInt8] = []
        var e: [Int] = []
        for n in 0..<10 {
            all[n].withUTF8 { buf.append(contentsOf: $0) }
            e.append(buf.count)
        }
        self = buf.withUnsafeBufferPointer { b in
            let base = b.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
            let s = (0..<10).map { n in sy_str(s: base.map { $0 + (n == 0 ? 0 : e[n - 1]) }, len: e[n] - (n == 0 ? 0 : e[n - 1])) }
            return CellKeys((s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]))
        }
    }

    private init(_ p: (sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str)) {
        var total = 0
        withUnsafeBytes(of: p) { raw in
            for n in 0..<10 { total += raw.load(fromByteOffset: n * MemoryLayout<sy_str>.stride, as: sy_str.self).len }
        }
        let s = unsafeDowncast(Storage.create(minimumCapacity: total) { _ in (0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }, to: Storage.self)
        s.withUnsafeMutablePointers { header, bytes in
            withUnsafeBytes(of: p) { raw in
                withUnsafeMutableBytes(of: &header.pointee) { ends in
                    var at = 0
                    for n in 0..<10 {
                        let f = raw.load(fromByteOffset: n * MemoryLayout<sy_str>.stride, as: sy_str.self)
                        if let src = f.s, f.len > 0 {
                            memcpy(bytes + at, src, f.len)
                            at += f.len
                        }
                        ends.storeBytes(of: Int32(at), toByteOffset: n * 4, as: Int32.self)
                    }
                }
            }
        }
        storage = s
    }

    /// The bytes of a field (valid while the keys are).
    @inline(__always) private func withBytes<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R {
        storage.withUnsafeMutablePointerToElements { body(UnsafePointer($0)) }
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
        return withBytes { String(decoding: UnsafeBufferPointer(start: $0 + r.lowerBound, count: r.count), as: UTF8.self) }
    }

    /// Byte equality of a field and a slice of the core's message.
    @inline(__always) func equals(_ f: Field, _ s: sy_str) -> Bool {
        let r = range(f)
        guard r.count == s.len else { return false }
        guard let p = s.s, s.len > 0 else { return true }
        return withBytes { memcmp($0 + r.lowerBound, p, s.len) == 0 }
    }

    /// Byte equality of a field and a string (a method name).
    func equals(_ f: Field, _ t: StaticString) -> Bool {
        let r = range(f)
        guard r.count == t.utf8CodeUnitCount else { return false }
        return withBytes { memcmp($0 + r.lowerBound, t.utf8Start, r.count) == 0 }
    }

    /// ASCII case-insensitive equality of a field and a slice of the core's message (host names).
    func equalsIgnoringCase(_ f: Field, _ s: sy_str) -> Bool {
        let r = range(f)
        guard r.count == s.len else { return false }
        guard let p = s.s, s.len > 0 else { return true }
        let a = UnsafeRawBufferPointer(start: p, count: s.len)
        return withBytes { u in
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
        return withBytes { memcmp($0 + r.lowerBound, "z9hG4bK", 7) == 0 }
    }
}
