import SwitchyardMI

/// The MI reply a C plugin builds value by value (ABI 1.6 mi_add_*): no JSON text crosses, so
/// nothing needs escaping on the plugin's side. One builder per MI call, used on the handler's
/// thread only.
struct MIReplyBuilder {
    private enum Frame {
        case object(key: String?, JSONObject)
        case array(key: String?, [JSONValue])
    }

    private var open: [Frame] = []
    /// The finished top-level value (set when it is a scalar, or when its container closes).
    private(set) var root: JSONValue?
    /// True once anything was added: the answer is the built value.
    private(set) var started = false

    /// Whether `key` fits where the builder stands: a key inside an object, none elsewhere.
    private func keyFits(_ key: String?) -> Bool {
        switch open.last {
        case .object?: return key != nil
        case .array?: return key == nil
        case nil: return key == nil && root == nil
        }
    }

    /// Adds a finished value where the builder stands.
    private mutating func place(_ key: String?, _ value: JSONValue) {
        switch open.popLast() {
        case .object(let k, var o)?:
            o[key ?? ""] = value
            open.append(.object(key: k, o))
        case .array(let k, var a)?:
            a.append(value)
            open.append(.array(key: k, a))
        case nil:
            root = value
        }
    }

    mutating func add(_ key: String?, _ value: JSONValue) -> Bool {
        guard keyFits(key) else { return false }
        started = true
        place(key, value)
        return true
    }

    mutating func openObject(_ key: String?) -> Bool {
        guard keyFits(key) else { return false }
        started = true
        open.append(.object(key: key, JSONObject()))
        return true
    }

    mutating func openArray(_ key: String?) -> Bool {
        guard keyFits(key) else { return false }
        started = true
        open.append(.array(key: key, []))
        return true
    }

    mutating func close() -> Bool {
        guard let top = open.popLast() else { return false }
        switch top {
        case .object(let k, let o): place(k, .object(o))
        case .array(let k, let a): place(k, .array(a))
        }
        return true
    }

    /// The answer: containers still open are closed.
    mutating func finish() -> JSONValue? {
        while close() {}
        return root
    }
}
