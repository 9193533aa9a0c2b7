/// A JSON object that keeps its members in insertion order.
///
/// Order matters for MI: replies are compared byte-for-byte by tests and read by people, and
/// OpenSIPS emits members in the order its handlers add them. Setting an existing key replaces the
/// value in place (so a parsed document with a duplicate key keeps the last value at the first
/// position). Equality is order-sensitive: two objects are equal when they serialize identically.
public struct JSONObject: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public let key: String
        public var value: JSONValue
    }

    /// Small objects (the usual MI case) are searched linearly; past this size a hash index is kept.
    private static let indexThreshold = 12

    public private(set) var members: [Member] = []
    private var index: [String: Int]? = nil

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        members.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[key] = value }
    }

    /// Members in document order; a repeated key keeps its first position and its last value (the
    /// parser's rule, the same as assigning the pairs one by one, without a lookup per pair).
    init(keys: ArraySlice<String>, values: ArraySlice<JSONValue>) {
        let n = keys.count
        members.reserveCapacity(n)
        if n <= Self.indexThreshold {
            outer: for (key, value) in zip(keys, values) {
                for i in members.indices where members[i].key == key {
                    members[i].value = value
                    continue outer
                }
                members.append(Member(key: key, value: value))
            }
        } else {
            var built = [String: Int](minimumCapacity: n)
            for (key, value) in zip(keys, values) {
                // One hash per new key: insert first, undo for a repeated key (rare).
                if let at = built.updateValue(members.count, forKey: key) {
                    built[key] = at
                    members[at].value = value
                } else {
                    members.append(Member(key: key, value: value))
                }
            }
            index = built
        }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return members.firstIndex { $0.key == key }
    }

    /// Member lookup; assigning `nil` removes the member.
    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { members[$0].value } }
        set {
            if let newValue {
                if let at = position(of: key) {
                    members[at].value = newValue
                } else {
                    members.append(Member(key: key, value: newValue))
                    if index != nil {
                        index![key] = members.count - 1
                    } else if members.count > Self.indexThreshold {
                        rebuildIndex()
                    }
                }
            } else if let at = position(of: key) {
                members.remove(at: at)
                if index != nil { rebuildIndex() }
            }
        }
    }

    private mutating func rebuildIndex() {
        var built = [String: Int](minimumCapacity: members.count)
        for (i, m) in members.enumerated() { built[m.key] = i }
        index = built
    }

    public func contains(_ key: String) -> Bool { position(of: key) != nil }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool { lhs.members == rhs.members }
}

extension JSONObject: Sequence {
    public func makeIterator() -> IndexingIterator<[Member]> { members.makeIterator() }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }
}
