import SwitchyardSIP

/// The bytes of a message being built, in memory the writer owns: an append is a capacity test and a memcpy
/// (an Array's append(contentsOf:) also tests uniqueness and goes through the generic copy, ~90 instructions, and
/// a forwarded request takes about eight of them).
///
/// Not a value to copy: two copies would share the memory. It lives inside `OutputBuffers` (one per thread, reused)
/// or for the length of one `build` call; `release()` frees the memory.
struct ByteWriter {
    private(set) var base: UnsafeMutablePointer<UInt8>?
    private(set) var capacity = 0
    private(set) var count = 0

    init() {}

    init(capacity: Int) { reserveCapacity(capacity) }

    /// Frees the memory; the writer is empty afterwards.
    mutating func release() {
        base?.deallocate()
        base = nil
        capacity = 0
        count = 0
    }

    /// The bytes written so far (valid until the next append or release).
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }
    var isEmpty: Bool { count == 0 }

    mutating func removeAll() { count = 0 }

    mutating func reserveCapacity(_ n: Int) {
        if n > capacity { grow(to: n) }
    }

    private mutating func grow(to need: Int) {
        let newCapacity = Swift.max(need, capacity * 2, 256)
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        if let old = base {
            nb.update(from: old, count: count)
            old.deallocate()
        }
        base = nb
        capacity = newCapacity
    }

    @inline(__always) mutating func append(_ b: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base.unsafelyUnwrapped[count] = b
        count += 1
    }

    @inline(__always) mutating func append(contentsOf p: UnsafeBufferPointer<UInt8>) {
        let n = p.count
        guard n > 0, let src = p.baseAddress else { return }
        if count + n > capacity { grow(to: count + n) }
        (base.unsafelyUnwrapped + count).update(from: src, count: n)
        count += n
    }

    @inline(__always) mutating func append(text: String) {
        var s = text
        s.withUTF8 { append(contentsOf: $0) }
    }

    /// A literal's bytes (no string made).
    @inline(__always) mutating func append(literal s: StaticString) {
        s.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// A line end.
    @inline(__always) mutating func appendCRLF() {
        if count + 2 > capacity { grow(to: count + 2) }
        base.unsafelyUnwrapped[count] = 13
        base.unsafelyUnwrapped[count + 1] = 10
        count += 2
    }

    /// Runs `body` on a new writer and returns what it wrote as an array (the writer's memory is freed).
    static func build(capacity: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter(capacity: capacity)
        defer { w.release() }
        body(&w)
        return Array(w.bytes)
    }
}
