import Synchronization

public enum StatsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Same group and name (compared case-insensitively, as lookups are) already registered.
    case duplicate(String)
    /// Empty group/name, or one containing ':' (which would make `group:name` ambiguous).
    case invalidName(String)

    public var description: String {
        switch self {
        case .duplicate(let n): return "statistic '\(n)' is already registered"
        case .invalidName(let n): return "invalid statistic name '\(n)'"
        }
    }
}

/// All statistics, grouped by "module" name, in registration order. Thread-safe; registration may
/// happen at any time (dynamic stats), reads come from MI transport threads.
public final class StatsRegistry: Sendable {
    private struct State {
        var stats: [Stat] = []
        /// lowercased `group:name` → position.
        var byQualifiedName: [String: Int] = [:]
        /// lowercased bare name → first position registered with it (any group).
        var firstByName: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A counter.
    public func register(group: String, name: String, flags: Stat.Flags = []) throws(StatsError) -> Stat {
        try add(Stat(group: group, name: name, flags: flags, function: nil))
    }

    /// A function stat: `read` runs (on the reading thread) each time the value is read.
    public func register(
        group: String, name: String, flags: Stat.Flags = [], read: @escaping @Sendable () -> Int64
    ) throws(StatsError) -> Stat {
        try add(Stat(group: group, name: name, flags: flags, function: read))
    }

    /// Get-or-create a counter, for dynamic stats (script `update_stat()`, a plugin registering
    /// the same name again). nil when the name is invalid or belongs to a function stat.
    public func counter(group: String, name: String, flags: Stat.Flags = []) -> Stat? {
        let stat: Stat
        do {
            stat = try register(group: group, name: name, flags: flags)
        } catch .duplicate {
            // Registered before, possibly by another thread a moment ago.
            guard let existing = self.stat(group: group, name: name) else { return nil }
            stat = existing
        } catch {
            return nil
        }
        return stat.flags.contains(.isFunction) ? nil : stat
    }

    private func add(_ stat: Stat) throws(StatsError) -> Stat {
        for part in [stat.group, stat.name] where part.isEmpty || part.contains(":") {
            throw StatsError.invalidName(stat.qualifiedName)
        }
        let key = stat.qualifiedName.lowercased()
        let bare = stat.name.lowercased()
        try state.withLock { (state) throws(StatsError) in
            guard state.byQualifiedName[key] == nil else { throw StatsError.duplicate(stat.qualifiedName) }
            state.byQualifiedName[key] = state.stats.count
            if state.firstByName[bare] == nil { state.firstByName[bare] = state.stats.count }
            state.stats.append(stat)
        }
        return stat
    }

    /// A stat by group and name (case-insensitive).
    public func stat(group: String, name: String) -> Stat? {
        let key = "\(group):\(name)".lowercased()
        return state.withLock { s in s.byQualifiedName[key].map { s.stats[$0] } }
    }

    /// The first stat registered with this bare name in any group (case-insensitive).
    public func stat(named name: String) -> Stat? {
        let key = name.lowercased()
        return state.withLock { s in s.firstByName[key].map { s.stats[$0] } }
    }

    /// Every stat in registration order, hidden ones included.
    public var all: [Stat] { state.withLock { $0.stats } }

    /// Group names in order of their first stat.
    public var groups: [String] {
        var seen = Set<String>()
        return all.map(\.group).filter { seen.insert($0).inserted }
    }

    /// The stats selected by MI selectors, deduplicated, in registration order:
    /// - `all`: every visible stat (only when `allowAll`);
    /// - `group:` (trailing colon): every visible stat of the group;
    /// - `name`: the first stat with that name in any group, case-insensitive;
    /// - `group:name`: exactly that stat. OpenSIPS 3.x does not understand this form (it looks the
    ///   whole text up as a bare name and skips it); we accept it on purpose because it is what
    ///   `get_statistics` prints as keys, so the output of one call can be fed to the next.
    /// Unknown selectors are skipped.
    public func select(_ selectors: [String], allowAll: Bool = true) -> [Stat] {
        state.withLock { s in
            var picked = Set<Int>()
            for selector in selectors {
                if allowAll && selector == "all" {
                    picked.formUnion(s.stats.indices.filter { !s.stats[$0].flags.contains(.hidden) })
                } else if selector.hasSuffix(":") {
                    let group = selector.dropLast().lowercased()
                    picked.formUnion(s.stats.indices.filter {
                        !s.stats[$0].flags.contains(.hidden) && s.stats[$0].group.lowercased() == group
                    })
                } else if selector.contains(":") {
                    if let at = s.byQualifiedName[selector.lowercased()] { picked.insert(at) }
                } else if let at = s.firstByName[selector.lowercased()] {
                    picked.insert(at)
                }
            }
            return picked.sorted().map { s.stats[$0] }
        }
    }

    /// Resets every resettable stat (`reset_all_statistics`).
    public func resetAll() {
        for stat in all { stat.reset() }
    }
}
