// The ABI 1.6 authoring helpers in Swift: the host's atomic counter and the MI reply builder.
import SwitchyardABI

extension PluginHost {
    /// Adds `delta` to a counter shared with C code through the host (atomic_add, sequentially consistent) and
    /// returns the new value; nil on a core older than ABI 1.6. `cell` must be 8-byte aligned and touched only
    /// through the host once workers run. (Swift code of its own uses `Atomic` instead.)
    public func atomicAdd(_ cell: UnsafeMutablePointer<Int64>, _ delta: Int64) -> Int64? {
        guard provides(\.atomic_add), let f = raw.pointee.atomic_add else { return nil }
        return f(cell, delta)
    }

    /// Stores `value` into the counter and returns the old one (atomic_swap); nil on a core older than ABI 1.6.
    public func atomicSwap(_ cell: UnsafeMutablePointer<Int64>, _ value: Int64) -> Int64? {
        guard provides(\.atomic_swap), let f = raw.pointee.atomic_swap else { return nil }
        return f(cell, value)
    }
}

/// The MI reply builder (ABI 1.6): the answer is built value by value on the request, with no JSON text and no
/// escaping, and the handler returns `.built`. Keys are nil at the top level and inside an array, and set inside an
/// object. Each call returns false when misused (see switchyard.h) or on a core without the builder.
extension MIRequest {
    /// True when the core offers the builder (ABI 1.6+).
    public var providesBuilder: Bool { host.provides(\.mi_end) }

    private func call(_ key: String?, _ body: (UnsafePointer<CChar>?) -> Int32?) -> Bool {
        guard providesBuilder else { return false }
        let rc: Int32? = key.map { k in k.withCString { body($0) } } ?? body(nil)
        return rc == 0
    }

    /// Opens an object: the following values are its members, until `end()`.
    @discardableResult
    public func addObject(_ key: String? = nil) -> Bool { call(key) { host.raw.pointee.mi_add_object?(raw, $0) } }

    /// Opens an array: the following values are its items, until `end()`.
    @discardableResult
    public func addArray(_ key: String? = nil) -> Bool { call(key) { host.raw.pointee.mi_add_array?(raw, $0) } }

    /// Closes the innermost open object or array.
    @discardableResult
    public func end() -> Bool {
        guard providesBuilder, let f = host.raw.pointee.mi_end else { return false }
        return f(raw) == 0
    }

    /// A string (its bytes as they are: quotes and control characters are escaped by the core).
    @discardableResult
    public func add(_ key: String?, _ value: String) -> Bool {
        var v = value
        return call(key) { k in v.withUTF8 { addString(k, UnsafeRawBufferPointer($0)) } }
    }

    /// A string from raw bytes (bytes that are not UTF-8 become U+FFFD).
    @discardableResult
    public func add(_ key: String?, bytes: [UInt8]) -> Bool {
        call(key) { k in bytes.withUnsafeBytes { addString(k, $0) } }
    }

    /// mi_add_str of `b` (an empty buffer may have no address: NULL would add null, so it passes "").
    private func addString(_ key: UnsafePointer<CChar>?, _ b: UnsafeRawBufferPointer) -> Int32? {
        guard let f = host.raw.pointee.mi_add_str else { return nil }
        guard let p = b.baseAddress?.assumingMemoryBound(to: CChar.self) else { return "".withCString { f(raw, key, $0, 0) } }
        return f(raw, key, p, b.count)
    }

    /// An integer.
    @discardableResult
    public func add(_ key: String?, _ value: Int64) -> Bool { call(key) { host.raw.pointee.mi_add_int?(raw, $0, value) } }

    /// true or false.
    @discardableResult
    public func add(_ key: String?, _ value: Bool) -> Bool { call(key) { host.raw.pointee.mi_add_bool?(raw, $0, value ? 1 : 0) } }

    /// JSON null.
    @discardableResult
    public func addNull(_ key: String?) -> Bool { call(key) { host.raw.pointee.mi_add_null?(raw, $0) } }
}
