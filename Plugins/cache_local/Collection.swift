// A collection: 2^n shards, each an EntryTable behind its own Mutex; a key's shard is picked from its hash, so
// operations on different shards never contend and no lock is global. Implements the cachedb semantics
// (as OpenSIPS cachedb_local, see README.md): store/insert/fetch/remove/add/counter_fetch, glob removal and listing,
// the expiry sweep.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

/// Result codes of switchyard_cachedb.h.
enum CacheResult {
    static let ok = Int32(SY_CACHEDB_OK.rawValue)
    static let error = Int32(SY_CACHEDB_ERROR.rawValue)
    static let notFound = Int32(SY_CACHEDB_NOT_FOUND.rawValue)
    static let notInt = Int32(SY_CACHEDB_NOT_INT.rawValue)
    static let exists = Int32(SY_CACHEDB_EXISTS.rawValue)
}

/// The cache clock: whole seconds of the monotonic clock (OpenSIPS's 1-second ticks; immune to wall-clock steps).
enum Ticks {
    @inline(__always) static func now() -> Int64 {
        var ts = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        #else
        clock_gettime(CLOCK_MONOTONIC, &ts)
        #endif
        return Int64(ts.tv_sec)
    }

    @inline(__always) static func nanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The expiry tick for a TTL of `expire` seconds stored now: `Entry.never` for 0; a negative TTL gives an entry
    /// that is already expired.
    @inline(__always) static func expiry(forTTL expire: Int64) -> Int64 {
        if expire == 0 { return Entry.never }
        let (sum, overflow) = now().addingReportingOverflow(expire)
        if overflow { return expire > 0 ? Entry.never - 1 : Int64.min }
        return Swift.min(sum, Entry.never - 1)
    }
}

/// One shard: its lock and table. Each shard is its own allocation, padded so two shards' locks do not share a cache
/// line.
final class Shard: Sendable {
    let table = Mutex(EntryTable())
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
}

/// A named collection (OpenSIPS: one hash table of cache_collections).
final class Collection: Sendable {
    let name: String
    /// `/r` was given (accepted, ignored: no clustering).
    let replicated: Bool
    let shards: [Shard]
    private let shardMask: Int
    private let host: PluginHost
    /// exec_threshold in microseconds (0 = off): operations slower than this are logged.
    private let thresholdMicros: Int64

    init(name: String, log2Shards: Int, replicated: Bool, host: PluginHost, thresholdMicros: Int64) {
        self.name = name
        self.replicated = replicated
        self.shards = (0..<(1 << log2Shards)).map { _ in Shard() }
        self.shardMask = (1 << log2Shards) - 1
        self.host = host
        self.thresholdMicros = thresholdMicros
    }

    /// SipHash-1-3 with the process's random seed (Swift's Hasher): keys come from the network, so the bucket layout
    /// must not be predictable.
    @inline(__always) static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h = Hasher()
        h.combine(bytes: key)
        return UInt64(UInt(bitPattern: h.finalize()))
    }

    /// The shard uses the hash's high bits, the table inside it the low bits.
    @inline(__always) private func shard(_ hash: UInt64) -> Shard {
        shards[Int(truncatingIfNeeded: hash >> 32) & shardMask]
    }

    // MARK: - cachedb operations

    /// Insert or replace; the TTL is reset (0 = never).
    func store(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, expire: Int64) -> Int32 {
        timed("store", key) {
            guard !key.isEmpty else { return refuseEmptyKey("store") }
            guard let fresh = Entry.make(key: key, value: value, expiry: Ticks.expiry(forTTL: expire)) else {
                return outOfMemory("store", key, value)
            }
            let h = Self.hash(key)
            let k = Bytes(key)
            let (rc, garbage) = shard(h).table.withLock { t -> (Int32, Entry?) in
                if let i = t.find(h, k) { return (CacheResult.ok, t.replace(at: i, with: fresh)) }
                t.insertNew(h, fresh)
                return (CacheResult.ok, nil)
            }
            garbage?.free()
            return rc
        }
    }

    /// Store only if absent or expired: the check and the insertion happen under the shard's lock, so of several
    /// callers racing on one key exactly one gets OK.
    func insert(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, expire: Int64) -> Int32 {
        timed("insert", key) {
            guard !key.isEmpty else { return refuseEmptyKey("insert") }
            guard let fresh = Entry.make(key: key, value: value, expiry: Ticks.expiry(forTTL: expire)) else {
                return outOfMemory("insert", key, value)
            }
            let h = Self.hash(key)
            let k = Bytes(key)
            let (rc, garbage) = shard(h).table.withLock { t -> (Int32, Entry?) in
                if let i = t.find(h, k) {
                    guard t.entry(at: i).isExpired(Ticks.now) else { return (CacheResult.exists, fresh) }
                    return (CacheResult.ok, t.replace(at: i, with: fresh))
                }
                t.insertNew(h, fresh)
                return (CacheResult.ok, nil)
            }
            garbage?.free()
            return rc
        }
    }

    /// Calls `deliver` once with a copy of the value (made under the lock, delivered after it is released) and returns
    /// OK, or NOT_FOUND. An expired entry found here is deleted.
    func fetch(_ key: UnsafeRawBufferPointer, _ deliver: (UnsafeRawBufferPointer) -> Void) -> Int32 {
        timed("fetch", key) {
            guard !key.isEmpty else { return refuseEmptyKey("fetch") }
            let h = Self.hash(key)
            let k = Bytes(key)
            return withUnsafeTemporaryAllocation(byteCount: 256, alignment: 16) { stack -> Int32 in
                let (length, heap, garbage) = shard(h).table.withLock { t -> (Int, Entry?, Entry?) in
                    guard let i = t.find(h, k) else { return (-1, nil, nil) }
                    let e = t.entry(at: i)
                    if e.isExpired(Ticks.now) { return (-1, nil, t.remove(at: i)) }
                    let v = e.value
                    if v.count <= stack.count {
                        if v.count > 0 { stack.baseAddress!.copyMemory(from: v.baseAddress!, byteCount: v.count) }
                        return (v.count, nil, nil)
                    }
                    // A large value: copied into a block of the same layout, freed below.
                    guard let copy = Entry.make(key: UnsafeRawBufferPointer(start: nil, count: 0), value: v,
                                                expiry: 0) else { return (-2, nil, nil) }
                    return (v.count, copy, nil)
                }
                garbage?.free()
                if length == -2 { return outOfMemory("fetch", key, UnsafeRawBufferPointer(start: nil, count: 0)) }
                guard length >= 0 else { return CacheResult.notFound }
                if let heap {
                    deliver(heap.value)
                    heap.free()
                } else {
                    deliver(UnsafeRawBufferPointer(start: stack.baseAddress, count: length))
                }
                return CacheResult.ok
            }
        }
    }

    /// Removes the key if present; OK either way.
    func remove(_ key: UnsafeRawBufferPointer) -> Int32 {
        timed("remove", key) {
            guard !key.isEmpty else { return refuseEmptyKey("remove") }
            let h = Self.hash(key)
            let k = Bytes(key)
            let garbage = shard(h).table.withLock { t -> Entry? in
                guard let i = t.find(h, k) else { return nil }
                return t.remove(at: i)
            }
            garbage?.free()
            return CacheResult.ok
        }
    }

    /// Adds `delta` to a counter (32-bit, wrapping like a C int). A missing or expired key is created with `delta` and
    /// a TTL of `expire`; an existing one keeps its expiry. NOT_INT when the stored value is not an integer.
    func add(_ key: UnsafeRawBufferPointer, delta: Int64, expire: Int64, newValue: inout Int64) -> Int32 {
        let d = Int32(truncatingIfNeeded: delta)
        let (rc, value): (Int32, Int32) = timed("add", key) {
            guard !key.isEmpty else { return (refuseEmptyKey("add"), 0) }
            let h = Self.hash(key)
            let k = Bytes(key)
            let (rc, value, garbage) = shard(h).table.withLock { t -> (Int32, Int32, Entry?) in
                var garbage: Entry? = nil
                if let i = t.find(h, k) {
                    let e = t.entry(at: i)
                    if !e.isExpired(Ticks.now) {
                        guard let old = CounterText.parse(e.value) else { return (CacheResult.notInt, 0, nil) }
                        let n = old &+ d
                        let updated = CounterText.withDecimal(n) { e.settingValue($0) }
                        guard let updated else { return (CacheResult.error, 0, nil) }
                        if updated.raw != e.raw { _ = t.replace(at: i, with: updated) } // realloc moved it
                        return (CacheResult.ok, n, nil)
                    }
                    garbage = t.remove(at: i)
                }
                let fresh = CounterText.withDecimal(d) {
                    Entry.make(key: key, value: $0, expiry: Ticks.expiry(forTTL: expire))
                }
                guard let fresh else { return (CacheResult.error, 0, garbage) }
                t.insertNew(h, fresh)
                return (CacheResult.ok, d, garbage)
            }
            garbage?.free()
            return (rc, value)
        }
        if rc == CacheResult.ok { newValue = Int64(value) }
        return rc
    }

    /// The integer value of a key: OK, NOT_FOUND (an expired entry is deleted) or NOT_INT.
    func counterFetch(_ key: UnsafeRawBufferPointer, value out: inout Int64) -> Int32 {
        let (rc, value): (Int32, Int32) = timed("counter_fetch", key) {
            guard !key.isEmpty else { return (refuseEmptyKey("counter_fetch"), 0) }
            let h = Self.hash(key)
            let k = Bytes(key)
            let (rc, value, garbage) = shard(h).table.withLock { t -> (Int32, Int32, Entry?) in
                guard let i = t.find(h, k) else { return (CacheResult.notFound, 0, nil) }
                let e = t.entry(at: i)
                if e.isExpired(Ticks.now) { return (CacheResult.notFound, 0, t.remove(at: i)) }
                guard let n = CounterText.parse(e.value) else { return (CacheResult.notInt, 0, nil) }
                return (CacheResult.ok, n, nil)
            }
            garbage?.free()
            return (rc, value)
        }
        if rc == CacheResult.ok { out = Int64(value) }
        return rc
    }

    // MARK: - Whole-collection operations

    /// Removes every key matching the shell glob (fnmatch, no flags; expired or not); returns how many.
    @discardableResult
    func removeMatching(_ glob: String) -> Int {
        let start = thresholdMicros > 0 ? Ticks.nanos() : 0
        let matcher = GlobMatcher(glob)
        var removed = 0
        for s in shards {
            removed += s.table.withLock { t in t.removeAll { matcher.matches($0.key) } }
        }
        reportSlow("remove_chunk", glob, since: start)
        return removed
    }

    /// Copies of the keys and values matching the glob, skipping expired entries not yet swept.
    func entriesMatching(_ glob: String) -> [(key: [UInt8], value: [UInt8])] {
        let start = thresholdMicros > 0 ? Ticks.nanos() : 0
        let matcher = GlobMatcher(glob)
        let now = Ticks.now()
        var out: [(key: [UInt8], value: [UInt8])] = []
        for s in shards {
            let found = s.table.withLock { t -> [Match] in
                var found: [Match] = []
                t.forEach { e in
                    if !e.isExpired({ now }) && matcher.matches(e.key) { found.append(Match(key: Array(e.key), value: Array(e.value))) }
                }
                return found
            }
            out.append(contentsOf: found.map { ($0.key, $0.value) })
        }
        reportSlow("fetch_chunk", glob, since: start)
        return out
    }

    private struct Match: Sendable {
        let key: [UInt8]
        let value: [UInt8]
    }

    /// Deletes the expired entries (the cleaner timer); returns how many.
    @discardableResult
    func sweepExpired() -> Int {
        let now = Ticks.now()
        var removed = 0
        for s in shards {
            removed += s.table.withLock { t in t.removeAll { $0.isExpired({ now }) } }
        }
        return removed
    }

    /// Frees everything (shutdown).
    func removeAll() {
        for s in shards { s.table.withLock { $0.removeAll() } }
    }

    /// Number of entries, expired-but-unswept included.
    var count: Int {
        shards.reduce(0) { sum, s in sum + s.table.withLock { $0.count } }
    }

    // MARK: - Helpers

    private func refuseEmptyKey(_ op: String) -> Int32 {
        host.log(.err, "\(op) in collection '\(name)': empty key")
        return CacheResult.error
    }

    private func outOfMemory(_ op: String, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Int32 {
        host.log(.err, "\(op) in collection '\(name)': no memory for key of \(key.count) and value of \(value.count) bytes")
        return CacheResult.error
    }

    /// Runs `body`, logging it when it took longer than exec_threshold.
    @inline(__always)
    private func timed<R>(_ op: StaticString, _ key: UnsafeRawBufferPointer, _ body: () -> R) -> R {
        guard thresholdMicros > 0 else { return body() }
        let start = Ticks.nanos()
        let r = body()
        reportSlow("\(op)", String(decoding: key, as: UTF8.self), since: start)
        return r
    }

    private func reportSlow(_ op: String, _ subject: String, since start: Int64) {
        guard thresholdMicros > 0 else { return }
        let micros = (Ticks.nanos() - start) / 1000
        if micros > thresholdMicros {
            host.log(.warn, "cachedb_local \(op) [\(subject)] in collection '\(name)' took \(micros) us (exec_threshold \(thresholdMicros) us)")
        }
    }
}

/// Counters as the script sees them: 32-bit C ints stored as decimal text.
enum CounterText {
    /// OpenSIPS str2sint: an optional sign then decimal digits, accumulated with 32-bit wrap-around. Unlike OpenSIPS,
    /// an empty value or a lone sign is not an integer (OpenSIPS reads them as 0).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        var i = 0
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            i = 1
        }
        guard i < bytes.count else { return nil }
        var n: Int32 = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            n = n &* 10 &+ Int32(c &- UInt8(ascii: "0"))
            i += 1
        }
        return negative ? 0 &- n : n
    }

    /// Calls `body` with the decimal text of `n` (on the stack).
    static func withDecimal<R>(_ n: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 12) { buf in
            var magnitude = n.magnitude // UInt32: no overflow for Int32.min
            var end = buf.count
            repeat {
                end -= 1
                buf[end] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if n < 0 {
                end -= 1
                buf[end] = UInt8(ascii: "-")
            }
            return body(UnsafeRawBufferPointer(start: buf.baseAddress! + end, count: buf.count - end))
        }
    }
}

/// fnmatch(3) of keys against one glob (no flags). A key is copied NUL-terminated first, so a key with a NUL byte
/// matches up to it, as in OpenSIPS. Made per call and used by the calling thread only (the `Sendable` conformance
/// only lets it be used under a shard's lock).
final class GlobMatcher: @unchecked Sendable {
    private let pattern: [CChar]
    private var key: [CChar] = []

    init(_ glob: String) {
        pattern = Array(glob.utf8CString)
    }

    func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        key.removeAll(keepingCapacity: true)
        key.append(contentsOf: bytes.lazy.map { CChar(bitPattern: $0) })
        key.append(0)
        return fnmatch(pattern, key, 0) == 0
    }
}
