// CTable: a published C table (an API or driver table) copied to memory of its own, never freed.
//
// Why not UnsafeMutablePointer<T>.allocate + initialize: in an unoptimised build those generic calls take T's size
// from the runtime's type metadata, and the Swift runtime keeps ONE metadata record per imported C type name for the
// whole process. A plugin built against an older, shorter header (a 1.0 table) that is loaded first makes every
// later plugin's generic copy of that type short: the appended fields are never copied while the header's
// struct_size (computed at compile time) claims them. Sizes here are the caller's compile-time ones.
import SwitchyardABI

public enum CTable {
    /// True when a bound table (it starts with a sy_table_header) was built long enough to hold `field`: the check to
    /// make before using an entry appended in a later minor than the oldest provider the consumer accepts.
    public static func has<T, F>(_ table: UnsafePointer<T>, _ field: KeyPath<T, F>) -> Bool {
        guard let offset = MemoryLayout<T>.offset(of: field) else { return false }
        let size = UnsafeRawPointer(table).load(as: sy_table_header.self).struct_size
        return offset + MemoryLayout<F>.size <= Int(size)
    }

    /// Copies the `size` bytes at `table` into new memory that lives for the rest of the process. Pass
    /// `MemoryLayout<T>.stride` / `.alignment` from concrete (non-generic) code, and the table as `&value`.
    public static func keep(_ table: UnsafeRawPointer, size: Int, alignment: Int) -> UnsafeRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: alignment)
        p.copyMemory(from: table, byteCount: size)
        return UnsafeRawPointer(p)
    }

    /// `size` zeroed bytes that live for the rest of the process, for a table filled in place.
    public static func zeroed(size: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: alignment)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return p
    }
}

/// A table made with CTable (an API table a module publishes), held in the module's Sendable state. Sendable because
/// the table is filled before it is published, read-only afterwards, and never freed: any thread may read it.
public struct CTablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafePointer<T>
    public init(_ pointer: UnsafePointer<T>) { self.pointer = pointer }
}
