import Synchronization

/// An object set once and then read lock-free by many threads: the address of a retained `T` in an atomic word (a
/// per-worker table that every script access looks up). `@inlinable`, so it is specialised in the plugin that uses
/// it: an unspecialised generic (AtomicLazyReference, across modules) looked up `Unmanaged` metadata at run time on
/// every load, about 600 instructions, several times per event.
public final class OnceSlot<T: AnyObject & Sendable>: Sendable {
    @usableFromInline let bits = Atomic<UInt>(0)

    public init() {}

    deinit { if let v = load() { Unmanaged.passUnretained(v).release() } }

    /// The stored object, or nil before the first store.
    @inlinable @inline(__always)
    public func load() -> T? {
        guard let p = UnsafeRawPointer(bitPattern: bits.load(ordering: .acquiring)) else { return nil }
        return Unmanaged<T>.fromOpaque(p).takeUnretainedValue()
    }

    /// Stores `value` unless an object is there already; returns the one that stays.
    @inlinable
    public func storeIfNil(_ value: T) -> T {
        let u = Unmanaged.passRetained(value)
        let (stored, found) = bits.compareExchange(expected: 0, desired: UInt(bitPattern: u.toOpaque()),
                                                   ordering: .acquiringAndReleasing)
        if stored { return value }
        u.release()
        return Unmanaged<T>.fromOpaque(UnsafeRawPointer(bitPattern: found)!).takeUnretainedValue()
    }
}
