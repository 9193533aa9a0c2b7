// A frame body handed to C code as a pointer and a length: C code may treat it as a C string, so one NUL byte follows
// the last byte in the array's own storage (its capacity, not its count). The framer allocates every body that way
// (no copy later); any other array is copied once into storage that has it.

public enum NulTerminatedBytes {
    /// A new array of `bytes` whose storage holds a NUL right after its last element.
    public static func copy(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        let n = bytes.count
        return [UInt8](unsafeUninitializedCapacity: n + 1) { buf, count in
            bytes.withUnsafeBufferPointer { src in
                if let s = src.baseAddress, n > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: s, byteCount: n) }
            }
            buf[n] = 0
            count = n
        }
    }

    /// Whether `bytes`' storage holds a NUL right after its last element. Reads one byte of the array's own
    /// allocation past `count`, only when its capacity says there is one.
    public static func isTerminated(_ bytes: [UInt8]) -> Bool {
        guard bytes.capacity > bytes.count else { return false }
        return bytes.withUnsafeBufferPointer { b in
            guard let p = b.baseAddress else { return false }
            return UnsafeRawPointer(p).load(fromByteOffset: b.count, as: UInt8.self) == 0
        }
    }

    /// `bytes` itself when its storage already holds the NUL (a body from the framer, never mutated since), else a
    /// copy that does.
    public static func terminated(_ bytes: [UInt8]) -> [UInt8] {
        isTerminated(bytes) ? bytes : copy(bytes[...])
    }
}
