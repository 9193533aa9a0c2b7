import SwitchyardABI
import Synchronization

/// Named, versioned tables modules publish for each other (e.g. "freeswitch" v1, "db:sqlite").
public final class APIDirectory: Sendable {
    public struct BindError: Error, Sendable { public let message: String }

    // Pointers to plugins' static tables (valid while the plugin stays loaded), with the plugin
    // file that published each, so a plugin that is not kept takes its tables with it.
    private let tables = Mutex<[String: (table: UInt, owner: String?)]>([:])

    public init() {}

    func publish(name: String, table: UnsafeRawPointer, owner: String?) -> Bool {
        tables.withLock { t in
            if t[name] != nil { return false }
            t[name] = (UInt(bitPattern: table), owner)
            return true
        }
    }

    func removeAll(owner: String) {
        tables.withLock { t in t = t.filter { $0.value.owner != owner } }
    }

    func bind(name: String, major: UInt32, minSize: UInt32) -> Result<UnsafeRawPointer, BindError> {
        guard let bits = tables.withLock({ $0[name]?.table }), let p = UnsafeRawPointer(bitPattern: bits) else {
            return .failure(BindError(message: "no module publishes an API named '\(name)'"))
        }
        let h = p.load(as: sy_table_header.self)
        if h.abi_major != major {
            return .failure(BindError(message: "API '\(name)' is version \(h.abi_major).\(h.abi_minor), major \(major) was asked for"))
        }
        if h.struct_size < minSize {
            return .failure(BindError(message: "API '\(name)' table is \(h.struct_size) bytes, at least \(minSize) needed"))
        }
        return .success(p)
    }

    public var names: [String] { tables.withLock { Array($0.keys).sorted() } }
}
