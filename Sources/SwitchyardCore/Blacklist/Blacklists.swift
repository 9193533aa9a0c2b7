import Foundation
import Synchronization

/// The server's named destination blacklists (at most 32, as OpenSIPS: a message selects them with a bit mask).
/// Lists come from `dst_blacklist` globals and from the core's own `dns` list; rules may be added and removed while
/// running (script, MI), some with an expiry. A message checks the lists its route selected with use_blacklist /
/// unuse_blacklist, starting from the lists used by default.
///
/// Sending checks the lists on every request, so readers touch no lock while the selected lists are empty (an atomic
/// mask of the lists with rules), and otherwise only take a reference to an immutable snapshot of the lists, which
/// the writers (add, delete, purge of expired rules) replace whole.
public final class Blacklists: Sendable {
    public struct List: Sendable {
        public let name: String
        public let index: Int
        /// Checked for every message unless unuse_blacklist() says otherwise (the learned `dns` list).
        public let byDefault: Bool
        /// The kind of owner as list_blacklists reports it: 0 the script (dst_blacklist), 1 the core's DNS list.
        public let owner: Int
        /// At most this many rules (0: no bound); adding one more drops the oldest (the learned `dns` list).
        public let limit: Int
        public var rules: [BlacklistRule]
    }

    /// The lists as readers see them; never changed once published.
    final class Snapshot: Sendable {
        let lists: [List]
        init(_ lists: [List]) { self.lists = lists }
    }

    /// The names' list numbers, fixed once the lists are installed: use_blacklist looks them up without a lock.
    final class Names: Sendable {
        let index: [String: Int]
        init(_ index: [String: Int]) { self.index = index }
    }

    public static let maxLists = 32
    /// How many rules the learned `dns` list keeps at most.
    public static let dnsLimit = 4096
    private let current = Mutex<Snapshot>(Snapshot([]))
    private let sealedNames = AtomicLazyReference<Names>()
    /// The lists every message starts with (read on each message: an atomic, no lock).
    private let defaults = Atomic<UInt32>(0)
    /// The lists that have rules: a message whose lists are all empty is not checked further.
    private let nonEmpty = Atomic<UInt32>(0)

    public init() {}

    /// Defines a list at startup; nil and a reason when it cannot be.
    @discardableResult
    public func define(name: String, rules: [BlacklistRule], byDefault: Bool = false, owner: Int = 0, limit: Int = 0) -> String? {
        guard sealedNames.load() == nil else { return "blacklist '\(name)' defined after startup" }
        return current.withLock { s -> String? in
            var l = s.lists
            if l.contains(where: { $0.name == name }) { return "blacklist '\(name)' is defined twice" }
            guard l.count < Self.maxLists else { return "too many blacklists (at most \(Self.maxLists))" }
            var unique: [BlacklistRule] = []
            for r in rules where !unique.contains(where: { $0.sameRule(r) }) { unique.append(r) }
            l.append(List(name: name, index: l.count, byDefault: byDefault, owner: owner, limit: limit, rules: unique))
            if byDefault { defaults.bitwiseOr(1 << UInt32(l.count - 1), ordering: .relaxed) }
            publish(l, into: &s)
            return nil
        }
    }

    /// Fixes the set of lists (end of startup): names are then looked up without a lock, and no list is added.
    public func seal() {
        let names = current.withLock { s in Dictionary(s.lists.map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a }) }
        _ = sealedNames.storeIfNil(Names(names))
    }

    public var defaultMask: UInt32 { defaults.load(ordering: .relaxed) }

    /// The lists of `mask` that have rules (0: nothing to check; no lock taken).
    public func withRules(_ mask: UInt32) -> UInt32 { mask & nonEmpty.load(ordering: .acquiring) }

    /// The bit of a list, for use_blacklist / unuse_blacklist.
    public func index(of name: String) -> Int? {
        if let names = sealedNames.load() { return names.index[name] }
        return snapshot.lists.first(where: { $0.name == name })?.index
    }

    private var snapshot: Snapshot { current.withLock { $0 } }

    public var all: [List] {
        let now = Self.now()
        return snapshot.lists.map { var x = $0; x.rules.removeAll { $0.expiresAt != 0 && $0.expiresAt <= now }; return x }
    }

    /// Is the destination blacklisted by one of the lists of `mask`? `text` (the request as it would be sent) is
    /// printed only when a rule has a pattern.
    public func blocks(mask: UInt32, ip: IPBytes, port: Int, proto: String, text: () -> String) -> String? {
        let selected = mask & nonEmpty.load(ordering: .acquiring)
        guard selected != 0 else { return nil }
        let now = Self.now()
        var printed: String?
        let lazyText = { () -> String in
            if let printed { return printed }
            let t = text()
            printed = t
            return t
        }
        var expired = false
        defer { if expired { purgeExpired() } }
        for list in snapshot.lists where selected & (1 << UInt32(list.index)) != 0 {
            for r in list.rules {
                if r.expiresAt != 0 && r.expiresAt <= now { expired = true; continue }
                if r.matches(ip: ip, port: port, proto: proto, text: lazyText) { return list.name }
            }
        }
        return nil
    }

    /// Does one list block the destination (check_blacklist_rule, MI check_blacklist)? nil: no such list.
    public func check(list name: String, ip: IPBytes, port: Int, proto: String, text: String) -> Bool? {
        guard let i = index(of: name) else { return nil }
        return blocks(mask: 1 << UInt32(i), ip: ip, port: port, proto: proto, text: { text }) != nil
    }

    /// Adds a rule (expire in seconds, 0: for good). false: no such list. A rule already there only gets the new expiry.
    public func add(list name: String, rule: BlacklistRule, expire: Int) -> Bool {
        var r = rule
        r.expiresAt = expire > 0 ? Self.deadline(after: expire) : 0
        return current.withLock { s -> Bool in
            var l = s.lists
            guard let i = l.firstIndex(where: { $0.name == name }) else { return false }
            let now = Self.now()
            l[i].rules.removeAll { $0.expiresAt != 0 && $0.expiresAt <= now }
            if let j = l[i].rules.firstIndex(where: { $0.sameRule(r) }) {
                // Learned again: it moves to the end, so a full list drops the rules learned longest ago, not it.
                l[i].rules.remove(at: j)
                l[i].rules.append(r)
            } else {
                if l[i].limit > 0, l[i].rules.count >= l[i].limit { l[i].rules.removeFirst(l[i].rules.count - l[i].limit + 1) }
                l[i].rules.append(r)
            }
            publish(l, into: &s)
            return true
        }
    }

    /// Removes a rule; nil: no such list, false: no such rule.
    public func delete(list name: String, rule: BlacklistRule) -> Bool? {
        current.withLock { s -> Bool? in
            var l = s.lists
            guard let i = l.firstIndex(where: { $0.name == name }) else { return nil }
            guard let j = l[i].rules.firstIndex(where: { $0.sameRule(rule) }) else { return false }
            l[i].rules.remove(at: j)
            publish(l, into: &s)
            return true
        }
    }

    /// Drops the rules whose expiry has passed (a check that met one does it), so the learned list does not keep
    /// dead rules until the next add.
    func purgeExpired() {
        let now = Self.now()
        current.withLock { s in
            var l = s.lists
            for i in l.indices { l[i].rules.removeAll { $0.expiresAt != 0 && $0.expiresAt <= now } }
            publish(l, into: &s)
        }
    }

    /// A new snapshot and the mask of the lists with rules. Lock held.
    private func publish(_ lists: [List], into s: inout Snapshot) {
        s = Snapshot(lists)
        var m: UInt32 = 0
        for x in lists where !x.rules.isEmpty { m |= 1 << UInt32(x.index) }
        nonEmpty.store(m, ordering: .releasing)
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Uptime `seconds` from now, saturated: an expiry past the clock's range (MI or script "expire" of any size)
    /// stays for good rather than trapping.
    static func deadline(after seconds: Int) -> UInt64 {
        let (ns, o1) = UInt64(max(0, seconds)).multipliedReportingOverflow(by: 1_000_000_000)
        let (at, o2) = now().addingReportingOverflow(ns)
        return o1 || o2 ? UInt64.max : at
    }
}
