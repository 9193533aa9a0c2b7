import Foundation
import Synchronization

/// The server's named destination blacklists (at most 32, as OpenSIPS: a message selects them with a bit mask).
/// Lists come from `dst_blacklist` globals and from the core's own `dns` list; rules may be added and removed while
/// running (script, MI), some with an expiry. A message checks the lists its route selected with use_blacklist /
/// unuse_blacklist, starting from the lists used by default.
public final class Blacklists: Sendable {
    public struct List: Sendable {
        public let name: String
        public let index: Int
        /// Checked for every message unless unuse_blacklist() says otherwise (the learned `dns` list).
        public let byDefault: Bool
        /// The kind of owner as list_blacklists reports it: 0 the script (dst_blacklist), 1 the core's DNS list.
        public let owner: Int
        public var rules: [BlacklistRule]
    }

    public static let maxLists = 32
    private let lists = Mutex<[List]>([])
    /// The lists every message starts with (read on each message: an atomic, no lock).
    private let defaults = Atomic<UInt32>(0)

    public init() {}

    /// Defines a list at startup; nil and a reason when it cannot be.
    @discardableResult
    public func define(name: String, rules: [BlacklistRule], byDefault: Bool = false, owner: Int = 0) -> String? {
        lists.withLock { l -> String? in
            if l.contains(where: { $0.name == name }) { return "blacklist '\(name)' is defined twice" }
            guard l.count < Self.maxLists else { return "too many blacklists (at most \(Self.maxLists))" }
            var unique: [BlacklistRule] = []
            for r in rules where !unique.contains(where: { $0.sameRule(r) }) { unique.append(r) }
            l.append(List(name: name, index: l.count, byDefault: byDefault, owner: owner, rules: unique))
            if byDefault { defaults.bitwiseOr(1 << UInt32(l.count - 1), ordering: .relaxed) }
            return nil
        }
    }

    public var defaultMask: UInt32 { defaults.load(ordering: .relaxed) }

    /// The bit of a list, for use_blacklist / unuse_blacklist.
    public func index(of name: String) -> Int? { lists.withLock { l in l.first(where: { $0.name == name })?.index } }

    public var all: [List] {
        let now = Self.now()
        return lists.withLock { l in l.map { var x = $0; x.rules.removeAll { $0.expiresAt != 0 && $0.expiresAt <= now }; return x } }
    }

    /// Is the destination blacklisted by one of the lists of `mask`? `text` (the request as it would be sent) is
    /// printed only when a rule has a pattern.
    public func blocks(mask: UInt32, ip: IPBytes, port: Int, proto: String, text: () -> String) -> String? {
        guard mask != 0 else { return nil }
        let now = Self.now()
        // The rules are copied out: fnmatch and the text are not run under the lock.
        let chosen = lists.withLock { l in l.filter { mask & (1 << UInt32($0.index)) != 0 && !$0.rules.isEmpty } }
        var printed: String?
        let lazyText = { () -> String in
            if let printed { return printed }
            let t = text()
            printed = t
            return t
        }
        for list in chosen {
            for r in list.rules where r.expiresAt == 0 || r.expiresAt > now {
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
        return lists.withLock { l -> Bool in
            guard let i = l.firstIndex(where: { $0.name == name }) else { return false }
            let now = Self.now()
            l[i].rules.removeAll { $0.expiresAt != 0 && $0.expiresAt <= now }
            if let j = l[i].rules.firstIndex(where: { $0.sameRule(r) }) { l[i].rules[j].expiresAt = r.expiresAt } else { l[i].rules.append(r) }
            return true
        }
    }

    /// Removes a rule; nil: no such list, false: no such rule.
    public func delete(list name: String, rule: BlacklistRule) -> Bool? {
        lists.withLock { l -> Bool? in
            guard let i = l.firstIndex(where: { $0.name == name }) else { return nil }
            guard let j = l[i].rules.firstIndex(where: { $0.sameRule(rule) }) else { return false }
            l[i].rules.remove(at: j)
            return true
        }
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
