import SwitchyardSIP

/// The bytes of a message being built, in memory the writer owns: an append is a capacity test and a memcpy
/// (an Array's append(contentsOf:) also tests uniqueness and goes through the generic copy, ~90 instructions, and
/// a forwarded request takes about eight of them).
///
/// Not a value to copy: two copies would share the memory, and a release of each would free it twice. Only two owners
/// make one and release it, `build` (for the length of the call) and `OutputBuffers` (one per thread, reused); every
/// other code gets it `inout` from them and never stores it. Not declared ~Copyable with a deinit: that build measured
/// ~350 more instructions per stateless call (Benchmarks/sip/callgrind.sh: forward's writer and the socket send were
/// no longer inlined, more retains), on the path this type exists to make cheaper.
struct ByteWriter {
    private(set) var base: UnsafeMutablePointer<UInt8>?
    private(set) var capacity = 0
    private(set) var count = 0

    init() {}

    init(capacity: Int) { reserveCapacity(capacity) }

    /// Frees the memory (its owner's last call); the writer is empty afterwards.
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

    /// Drops the last `n` bytes written.
    mutating func removeLast(_ n: Int) {
        precondition(n >= 0 && n <= count, "removeLast past the start")
        count -= n
    }

    mutating func reserveCapacity(_ n: Int) {
        if n > capacity { grow(to: n) }
    }

    private mutating func grow(to need: Int) {
        let newCapacity = Swift.max(need, capacity * 2, 256)
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        if let old = base {
            nb.initialize(from: old, count: count)
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
        (base.unsafelyUnwrapped + count).initialize(from: src, count: n)
        count += n
    }

    /// Bytes of memory bound to some other type (a word's bytes): copied as raw memory, never read as UInt8s.
    @inline(__always) mutating func append(raw p: UnsafeRawBufferPointer) {
        let n = p.count
        guard n > 0, let src = p.baseAddress else { return }
        if count + n > capacity { grow(to: count + n) }
        UnsafeMutableRawPointer(base.unsafelyUnwrapped + count).copyMemory(from: src, byteCount: n)
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

    /// Runs `body` on a new writer and returns what it wrote as an array (the writer's memory is freed). Tests and
    /// local_route only: the per-message paths build into the thread's output buffer (OutputBuffers).
    static func build(capacity: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter(capacity: capacity)
        defer { w.release() }
        body(&w)
        return Array(w.bytes)
    }
}
