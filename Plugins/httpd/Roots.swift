// The URL roots other modules registered, and how a request path finds its root.
import SwitchyardABI

/// One registered root: the module's handler and its user pointer (owned by that module, kept for the server's life).
struct HTTPRoot: @unchecked Sendable { // `user` is the registering module's pointer, only handed back to its handler
    let module: String
    /// Without slashes; "" = catch-all.
    let root: String
    let maxBody: UInt64
    let handler: sy_httpd_handler
    let user: UnsafeMutableRawPointer?

    /// "/<root>" itself or anything under "/<root>/"; the catch-all matches every path.
    func matches(_ path: Substring) -> Bool {
        if root.isEmpty { return true }
        guard path.hasPrefix("/") else { return false }
        let rest = path.dropFirst()
        guard rest.hasPrefix(root) else { return false }
        let after = rest.dropFirst(root.count)
        return after.isEmpty || after.hasPrefix("/")
    }
}

/// The roots in registration order; the catch-all ("") is tried last.
struct HTTPRootTable: Sendable {
    private(set) var roots: [HTTPRoot] = []

    /// False when `root` is taken.
    mutating func add(_ r: HTTPRoot) -> Bool {
        guard !roots.contains(where: { $0.root == r.root }) else { return false }
        roots.append(r)
        return true
    }

    /// The root serving `path`: the first named root that matches, else the catch-all.
    func find(_ path: Substring) -> HTTPRoot? {
        roots.first { !$0.root.isEmpty && $0.matches(path) } ?? roots.first { $0.root.isEmpty }
    }
}

/// Strips slashes around a root given as "/mi/" or "mi".
func normalizedRoot(_ s: String) -> String {
    var t = Substring(s)
    while t.hasPrefix("/") { t = t.dropFirst() }
    while t.hasSuffix("/") { t = t.dropLast() }
    return String(t)
}
