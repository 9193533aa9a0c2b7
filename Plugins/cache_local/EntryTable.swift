// The storage of one shard: an open-addressing hash table (linear probing, backward-shift deletion, no tombstones)
// of entries that are single malloc'd blocks. Not thread-safe by itself: every table lives inside a shard's Mutex.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One cache entry: a single malloc'd block
///
///     [expiry: Int64][key length: UInt32][value length: UInt32][key bytes][value bytes]
///
/// `expiry` is the last tick (monotonic second) at which the entry is visible; `Entry.never` for no expiry.
/// The pointer is owned by the table holding it (freed on removal/replacement, or by whoever removed it).
struct Entry: @unchecked Sendable { // a raw pointer handed between a lock's inside and outside, never shared
    let raw: UnsafeMutableRawPointer

    static let headerSize = 16
    static let never = Int64.max

    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    /// A new block holding copies of `key` and `value`; nil when out of memory or a length exceeds 4 GiB.
    static func make(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expiry: Int64) -> Entry? {
        guard key.count <= Int(UInt32.max), value.count <= Int(UInt32.max),
              let raw = malloc(headerSize + key.count + value.count) else { return nil }
        raw.storeBytes(of: expiry, as: Int64.self)
        raw.storeBytes(of: UInt32(key.count), toByteOffset: 8, as: UInt32.self)
        raw.storeBytes(of: UInt32(value.count), toByteOffset: 12, as: UInt32.self)
        if let k = key.baseAddress, key.count > 0 { (raw + headerSize).copyMemory(from: k, byteCount: key.count) }
        if let v = value.baseAddress, value.count > 0 {
            (raw + headerSize + key.count).copyMemory(from: v, byteCount: value.count)
        }
        return Entry(raw)
    }

    @inline(__always) var expiry: Int64 {
        get { raw.load(as: Int64.self) }
        nonmutating set { raw.storeBytes(of: newValue, as: Int64.self) }
    }
    @inline(__always) var keyLength: Int { Int(raw.load(fromByteOffset: 8, as: UInt32.self)) }
    @inline(__always) var valueLength: Int { Int(raw.load(fromByteOffset: 12, as: UInt32.self)) }
    @inline(__always) var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw + Self.headerSize, count: keyLength)
    }
    @inline(__always) var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw + Self.headerSize + keyLength, count: valueLength)
    }

    /// True when the entry is past its expiry at tick `now()` (strictly: an entry expiring at tick T is still visible
    /// during T). `now` is only called for entries that can expire.
    @inline(__always) func isExpired(_ now: () -> Int64) -> Bool {
        let e = expiry
        return e != Self.never && e < now()
    }

    @inline(__always) func keyEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        let n = keyLength
        guard n == other.count else { return false }
        guard n > 0, let b = other.baseAddress else { return true }
        return memcmp(raw + Self.headerSize, b, n) == 0
    }

    /// Replaces the value in place when the length is unchanged, else reallocates; returns the (possibly moved) entry,
    /// or nil when out of memory (the old block is then untouched).
    func settingValue(_ bytes: UnsafeRawBufferPointer) -> Entry? {
        guard bytes.count <= Int(UInt32.max) else { return nil }
        let k = keyLength
        var target = self
        if bytes.count != valueLength {
            guard let moved = realloc(raw, Self.headerSize + k + bytes.count) else { return nil }
            target = Entry(moved)
            moved.storeBytes(of: UInt32(bytes.count), toByteOffset: 12, as: UInt32.self)
        }
        if let b = bytes.baseAddress, bytes.count > 0 {
            (target.raw + Self.headerSize + k).copyMemory(from: b, byteCount: bytes.count)
        }
        return target
    }

    func free() { releaseBlock(raw) }
}

@inline(__always) private func releaseBlock(_ p: UnsafeMutableRawPointer) { free(p) }

/// A borrowed byte string (a key, a glob) handed into a shard's lock: `Sendable` so that using it under the lock does
/// not tie the table's region to the caller's; the bytes are only read, during the call that lent them.
struct Bytes: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }
    @inline(__always) var count: Int { buffer.count }
    @inline(__always) var isEmpty: Bool { buffer.isEmpty }
}

/// A slot of the table: the key's full hash (compared before touching the entry) and the entry, nil when empty.
struct Slot {
    var hash: UInt64
    var entry: Entry?
}

/// Open-addressing hash table of entries keyed by their bytes. Capacity is a power of two (or 0 before the first
/// insertion); the load stays at most 3/4, and the table shrinks when it falls under 1/8 (at least `minCapacity`).
struct EntryTable: ~Copyable {
    static let minCapacity = 8

    private(set) var slots: UnsafeMutablePointer<Slot>? = nil
    private(set) var capacity = 0
    private(set) var count = 0

    init() {}

    deinit {
        if let slots {
            for i in 0..<capacity { slots[i].entry?.free() }
            slots.deinitialize(count: capacity)
            slots.deallocate()
        }
    }

    @inline(__always) private func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash) & (capacity - 1) }

    /// The slot holding `key`, or nil.
    func find(_ hash: UInt64, _ key: Bytes) -> Int? {
        guard let slots, count > 0 else { return nil }
        let mask = capacity - 1
        var i = home(hash)
        while let e = slots[i].entry {
            if slots[i].hash == hash && e.keyEquals(key.buffer) { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    /// The entry in slot `i` (which must be occupied).
    @inline(__always) func entry(at i: Int) -> Entry { slots![i].entry! }

    /// Puts `entry` in slot `i` (occupied), returning the one it replaces.
    @inline(__always) mutating func replace(at i: Int, with entry: Entry) -> Entry {
        let old = slots![i].entry!
        slots![i].entry = entry
        return old
    }

    /// Adds an entry whose key is known to be absent (check with `find` under the same lock); the table owns it.
    mutating func insertNew(_ hash: UInt64, _ entry: Entry) {
        if (count + 1) * 4 > capacity * 3 { resize(to: Swift.max(Self.minCapacity, capacity * 2)) }
        let mask = capacity - 1
        var i = home(hash)
        while slots![i].entry != nil { i = (i + 1) & mask }
        slots![i] = Slot(hash: hash, entry: entry)
        count += 1
    }

    /// Removes the entry in slot `i` and returns it (the caller frees it). Entries after it in the probe run move
    /// back (backward shift), so slot `i` may hold another entry afterwards. Shrinks the table when `shrink`.
    mutating func remove(at i: Int, shrink: Bool = true) -> Entry {
        let slots = self.slots!
        let removed = slots[i].entry!
        let mask = capacity - 1
        var hole = i
        var j = i
        while true {
            j = (j + 1) & mask
            guard slots[j].entry != nil else { break }
            let h = home(slots[j].hash)
            // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !stays {
                slots[hole] = slots[j]
                hole = j
            }
        }
        slots[hole] = Slot(hash: 0, entry: nil)
        count -= 1
        if shrink { shrinkIfSparse() }
        return removed
    }

    /// Removes (and frees) every entry for which `shouldRemove` is true; returns how many. Each entry is examined at
    /// least once (an entry shifted back into the current slot is examined there; one shifted across the end of the
    /// array is examined twice, which is harmless for a pure predicate).
    mutating func removeAll(where shouldRemove: (Entry) -> Bool) -> Int {
        guard let slots, count > 0 else { return 0 }
        var removed = 0
        var i = 0
        while i < capacity {
            if let e = slots[i].entry, shouldRemove(e) {
                remove(at: i, shrink: false).free()
                removed += 1
            } else {
                i += 1
            }
        }
        shrinkIfSparse()
        return removed
    }

    /// Calls `body` with every entry.
    func forEach(_ body: (Entry) -> Void) {
        guard let slots else { return }
        for i in 0..<capacity { if let e = slots[i].entry { body(e) } }
    }

    /// Frees every entry and the slot array.
    mutating func removeAll() {
        guard let slots else { return }
        for i in 0..<capacity { slots[i].entry?.free() }
        slots.deinitialize(count: capacity)
        slots.deallocate()
        self.slots = nil
        capacity = 0
        count = 0
    }

    private mutating func shrinkIfSparse() {
        guard capacity > Self.minCapacity, count * 8 < capacity else { return }
        var target = Self.minCapacity
        while count * 2 > target { target *= 2 } // at most half full after shrinking
        if count == 0 {
            removeAll()
        } else {
            resize(to: target)
        }
    }

    /// Rehashes into `newCapacity` slots (a power of two; allocation failure traps, like every Swift allocation).
    private mutating func resize(to newCapacity: Int) {
        let fresh = UnsafeMutablePointer<Slot>.allocate(capacity: newCapacity)
        fresh.initialize(repeating: Slot(hash: 0, entry: nil), count: newCapacity)
        let mask = newCapacity - 1
        if let old = slots {
            for k in 0..<capacity {
                guard old[k].entry != nil else { continue }
                var i = Int(truncatingIfNeeded: old[k].hash) & mask
                while fresh[i].entry != nil { i = (i + 1) & mask }
                fresh[i] = old[k]
            }
            old.deinitialize(count: capacity)
            old.deallocate()
        }
        slots = fresh
        capacity = newCapacity
    }
}
