// StatTable: the statistics this module knows — declared with `variable`, or created by update_stat/reset_stat/$stat —
// and the groups it may use. Shared by every script worker, so everything is behind one Mutex; the counters themselves
// live in the core (atomic), the table only maps names to their handles.
import SwitchyardPluginKit
import Synchronization

/// One statistic known to the module.
struct StatEntry: Sendable {
    /// Group as registered (the spelling of its first declaration).
    let group: String
    /// Bare name as registered.
    let name: String
    let stat: SYStat
    /// Declared `/no_reset`: reset_stat and `$stat(x) = 0` leave it alone.
    let noReset: Bool
}

/// What a "name" or "group:name" text designates.
enum StatResolution: Sendable {
    /// A statistic the module knows.
    case found(StatEntry)
    /// Not known yet; it would be created as `group:name` (group "dynamic" when the text had none).
    case missing(group: String, name: String)
    /// "group:name" with a group not declared (stat_groups, a `variable`, "script" or "dynamic").
    case unknownGroup(String)
    /// Empty name or group, or a name with a second ':'.
    case invalid(String)
}

final class StatTable: Sendable {
    /// Group of the statistics declared with `variable` and no group (OpenSIPS: "script").
    static let scriptGroup = "script"
    /// Group of the statistics created at run time with no group (OpenSIPS: "dynamic").
    static let dynamicGroup = "dynamic"

    fileprivate struct Declared {
        let group: String
        let name: String
        let noReset: Bool
    }

    fileprivate struct State {
        /// Usable groups: lowercased → spelling used to register.
        var groups: [String: String] = [StatTable.scriptGroup: StatTable.scriptGroup,
                                        StatTable.dynamicGroup: StatTable.dynamicGroup]
        /// `variable` lines, in configuration order, registered by init().
        var declared: [Declared] = []
        /// Lowercased "group:name" → entry.
        var byKey: [String: StatEntry] = [:]
        /// Lowercased bare name → first entry registered with it (any group), as OpenSIPS looks up a name without group.
        var byName: [String: StatEntry] = [:]
        /// Every entry in registration order (iterators).
        var order: [StatEntry] = []
    }

    private let state = Mutex(State())
    /// Serialises resets: the ABI has no atomic "set to 0", so a reset subtracts the value it read. Two resets racing
    /// would subtract it twice; updates racing with a reset are kept (they count after the reset).
    private let resetLock = Mutex(())

    // MARK: Configuration (modparam setters, main thread, before init)

    /// `stat_groups`: a comma-separated list of group names (blanks around each are trimmed, empty items skipped).
    func declareGroups(_ list: String) throws(PluginError) {
        var added: [String] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let group = item.trimmingBlanks()
            if group.isEmpty { continue }
            guard !group.contains(":") else { throw PluginError("group name '\(group)' contains ':'") }
            added.append(group)
        }
        state.withLock { s in
            for g in added where s.groups[g.lowercased()] == nil { s.groups[g.lowercased()] = g }
        }
    }

    /// `variable`: "name", "group:name", optionally followed by "/no_reset".
    func declare(_ spec: String) throws(PluginError) {
        guard !spec.isEmpty else { throw PluginError("empty statistic name") }
        var text = Substring(spec)
        var noReset = false
        if let slash = text.firstIndex(of: "/") {
            let flag = text[text.index(after: slash)...]
            guard flag.lowercased() == "no_reset" else {
                throw PluginError("unsupported flag '\(flag)' (the only flag is 'no_reset')")
            }
            noReset = true
            text = text[..<slash]
        }
        let (group, name) = StatTable.split(text)
        guard !name.isEmpty, !name.contains(":") else { throw PluginError("invalid statistic name '\(text)'") }
        if let group, group.isEmpty { throw PluginError("invalid statistic name '\(text)' (empty group)") }
        let decl = Declared(group: group.map(String.init) ?? StatTable.scriptGroup, name: String(name), noReset: noReset)
        try state.withLock { (s) throws(PluginError) in
            let key = "\(decl.group):\(decl.name)".lowercased()
            guard !s.declared.contains(where: { "\($0.group):\($0.name)".lowercased() == key }) else {
                throw PluginError("statistic '\(decl.group):\(decl.name)' is declared twice")
            }
            // A group named by a `variable` line is usable like one listed in stat_groups.
            if s.groups[decl.group.lowercased()] == nil { s.groups[decl.group.lowercased()] = decl.group }
            s.declared.append(decl)
        }
    }

    /// init(): registers every declared statistic with the core (each starts at 0).
    func registerDeclared(_ host: PluginHost) throws(PluginError) {
        let declared = state.withLock { s in
            s.declared.map { d in Declared(group: s.groups[d.group.lowercased()] ?? d.group, name: d.name, noReset: d.noReset) }
        }
        for d in declared {
            guard let stat = host.statRegister(d.name, group: d.group, flags: d.noReset ? .noReset : []) else {
                throw PluginError("the core refused statistic '\(d.group):\(d.name)'")
            }
            state.withLock { s in s.insert(StatEntry(group: d.group, name: d.name, stat: stat, noReset: d.noReset)) }
        }
    }

    // MARK: Run time (any worker thread)

    /// True when `group` may be used in a "group:name".
    func isKnownGroup(_ group: some StringProtocol) -> Bool {
        let key = group.lowercased()
        return state.withLock { $0.groups[key] != nil }
    }

    /// What `text` ("name" or "group:name") designates. Lookups ignore case, as OpenSIPS's do.
    func resolve(_ text: String) -> StatResolution {
        let (group, name) = StatTable.split(Substring(text))
        guard !name.isEmpty, !name.contains(":") else { return .invalid(text) }
        return state.withLock { s in
            guard let group else {
                if let e = s.byName[name.lowercased()] { return .found(e) }
                return .missing(group: StatTable.dynamicGroup, name: String(name))
            }
            guard let spelling = s.groups[group.lowercased()] else {
                return group.isEmpty ? .invalid(text) : .unknownGroup(String(group))
            }
            if let e = s.byKey["\(spelling):\(name)".lowercased()] { return .found(e) }
            return .missing(group: spelling, name: String(name))
        }
    }

    /// The entry for `text`, created (at 0, as `group:name` or `dynamic:name`) when unknown.
    /// On failure returns the reason to log.
    func obtain(_ text: String, host: PluginHost) -> Result<StatEntry, PluginError> {
        switch resolve(text) {
        case .found(let e):
            return .success(e)
        case .missing(let group, let name):
            // Registered outside the lock: the core's registry is thread-safe and returns the same counter to every
            // thread that asks for the same name, so a race only inserts the same handle twice (the first wins).
            guard let stat = host.statRegister(name, group: group) else {
                return .failure(PluginError("failed to create statistic <\(group):\(name)>"))
            }
            let entry = state.withLock { s in
                let key = "\(group):\(name)".lowercased()
                if let existing = s.byKey[key] { return existing }
                let e = StatEntry(group: group, name: name, stat: stat, noReset: false)
                s.insert(e)
                return e
            }
            return .success(entry)
        case .unknownGroup(let group):
            return .failure(PluginError(StatTable.unknownGroupMessage(group)))
        case .invalid(let t):
            return .failure(PluginError("invalid statistic name <\(t)>"))
        }
    }

    /// Back to 0, unless declared `/no_reset`.
    func reset(_ entry: StatEntry, host: PluginHost) {
        guard !entry.noReset else { return }
        resetLock.withLock { _ in
            let value = host.statGet(entry.stat)
            if value != 0 { host.statUpdate(entry.stat, -value) }
        }
    }

    /// The statistics of `group` known to the module, in registration order; nil for an undeclared group.
    func entries(inGroup group: String) -> [StatEntry]? {
        let key = group.lowercased()
        return state.withLock { s in
            guard s.groups[key] != nil else { return nil }
            return s.order.filter { $0.group.lowercased() == key }
        }
    }

    // MARK: Helpers

    static func unknownGroupMessage(_ group: some StringProtocol) -> String {
        "stat group '\(group)' must be explicitly defined using the 'stat_groups' module parameter"
    }

    /// "group:name" → (group, name) at the first ':'; "name" → (nil, name).
    static func split(_ text: Substring) -> (group: Substring?, name: Substring) {
        guard let colon = text.firstIndex(of: ":") else { return (nil, text) }
        return (text[..<colon], text[text.index(after: colon)...])
    }
}

fileprivate extension StatTable.State {
    mutating func insert(_ e: StatEntry) {
        let key = "\(e.group):\(e.name)".lowercased()
        guard byKey[key] == nil else { return }
        byKey[key] = e
        if byName[e.name.lowercased()] == nil { byName[e.name.lowercased()] = e }
        order.append(e)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
