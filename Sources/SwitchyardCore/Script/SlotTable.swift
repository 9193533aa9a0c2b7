import Synchronization

/// Names resolved to dense indexes at startup ($var names, $avp names, flag names), so the
/// interpreter never looks a name up by string while serving.
public final class SlotTable: Sendable {
    private let state = Mutex<(names: [String], index: [String: Int])>(([], [:]))

    public init() {}

    /// The slot of `name`, allocated on first use (startup only).
    public func slot(_ name: String) -> Int {
        state.withLock { s in
            if let i = s.index[name] { return i }
            s.names.append(name)
            s.index[name] = s.names.count - 1
            return s.names.count - 1
        }
    }

    public func lookup(_ name: String) -> Int? { state.withLock { $0.index[name] } }
    public var count: Int { state.withLock { $0.names.count } }
    public func name(_ slot: Int) -> String { state.withLock { $0.names[slot] } }
}
