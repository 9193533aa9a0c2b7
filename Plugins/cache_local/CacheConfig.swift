// The modparams of cache_local (cache_collections, cachedb_url, cache_clean_period, exec_threshold) and the
// topology built from them once: the collections, and which collection each cachedb group ("local", "local:grp") uses.
import SwitchyardPluginKit

/// What the modparam lines said, collected until the topology is built.
struct CacheConfig: Sendable {
    struct CollectionSpec: Sendable {
        let name: String
        let log2Size: Int
        let replicated: Bool
    }

    /// One `cachedb_url`: `local[:group]://[host]/[collection]`.
    struct URLSpec: Sendable {
        let text: String
        /// nil for the no-group connection ("local").
        let group: String?
        /// nil (or empty in the URL) for `default`.
        let collection: String?
    }

    static let defaultCollection = "default"
    /// OpenSIPS's HASH_SIZE_DEFAULT: 2^9 = 512 buckets (here: lock shards).
    static let defaultLog2Size = 9
    /// More shards than this buy no concurrency (each shard's table grows on demand).
    static let maxLog2Shards = 16

    var collections: [CollectionSpec] = []
    var urls: [URLSpec] = []
    var cleanPeriod = 600
    var execThreshold = 0

    /// `"name[=log2size]; name2[/r][=n]; ..."`: adds the collections (a name defined twice is an error).
    mutating func addCollections(_ list: String) throws(PluginError) {
        for item in list.split(separator: ";", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            var name = parts[0].trimmingBlanks()
            if name.isEmpty {
                if parts.count > 1 { throw PluginError("collection with a size but no name in '\(list)'") }
                continue // an empty item, as in "a; ; b" or a trailing ';'
            }
            var log2Size = Self.defaultLog2Size
            if parts.count > 1 {
                let text = parts[1].trimmingBlanks()
                guard let n = Int(text), n >= 0, n <= 31 else {
                    throw PluginError("invalid hash size '\(text)' for collection '\(name)' (an exponent: 5 means 2^5 buckets)")
                }
                log2Size = n
            }
            var replicated = false
            if name.hasSuffix("/r") {
                replicated = true
                name = String(name.dropLast(2)).trimmingBlanks()
                guard !name.isEmpty else { throw PluginError("collection with no name before '/r' in '\(list)'") }
            }
            if collections.contains(where: { $0.name == name }) {
                throw PluginError("collection <\(name)> defined more than once")
            }
            collections.append(CollectionSpec(name: name, log2Size: log2Size, replicated: replicated))
        }
    }

    /// Parses one cachedb_url: `local://`, `local:///coll`, `local:grp://`, `local:grp:///coll` (a host part, as in
    /// `local://localhost/coll`, is accepted and ignored).
    mutating func addURL(_ text: String) throws(PluginError) {
        let trimmed = text.trimmingBlanks()
        let chars = Array(trimmed)
        guard let sep = (0..<max(0, chars.count - 2)).first(where: { chars[$0] == ":" && chars[$0 + 1] == "/" && chars[$0 + 2] == "/" }) else {
            throw PluginError("invalid cachedb_url '\(text)': expected local[:group]://[/collection]")
        }
        let head = Substring(String(chars[..<sep]))
        let tail = Substring(String(chars[(sep + 3)...]))
        let engine: Substring
        var group: String? = nil
        if let colon = head.firstIndex(of: ":") {
            engine = head[..<colon]
            let g = String(head[head.index(after: colon)...])
            guard !g.isEmpty else { throw PluginError("invalid cachedb_url '\(text)': empty group after ':'") }
            group = g
        } else {
            engine = head
        }
        guard engine.lowercased() == "local" else {
            throw PluginError("invalid cachedb_url '\(text)': the scheme must be 'local' (this is cachedb_local), not '\(engine)'")
        }
        var collection: String? = nil
        if let slash = tail.firstIndex(of: "/") {
            let c = String(tail[tail.index(after: slash)...])
            guard !c.contains("/") else { throw PluginError("invalid cachedb_url '\(text)': bad collection name '\(c)'") }
            if !c.isEmpty { collection = c }
        }
        urls.append(URLSpec(text: trimmed, group: group, collection: collection))
    }
}

/// The collections and the group bindings, fixed at init (or at the first open(), if that comes first).
final class CacheTopology: Sendable {
    /// In definition order, `default` first.
    let collections: [Collection]
    /// The collection "local" (no group) uses; nil when cachedb_url lines exist but none without a group.
    let noGroup: Collection?
    /// group → collection, for "local:group".
    let groups: [String: Collection]
    let cleanPeriod: Int

    init(collections: [Collection], noGroup: Collection?, groups: [String: Collection], cleanPeriod: Int) {
        self.collections = collections
        self.noGroup = noGroup
        self.groups = groups
        self.cleanPeriod = cleanPeriod
    }

    func collection(named name: String) -> Collection? {
        collections.first { $0.name == name } // exact (OpenSIPS matched URL collections by prefix)
    }

    /// Builds the collections and binds the URLs (a later URL for the same group replaces an earlier one, with a
    /// warning). Throws for a URL naming an undefined collection.
    static func build(_ config: CacheConfig, host: PluginHost) throws(PluginError) -> CacheTopology {
        var specs = config.collections
        if let i = specs.firstIndex(where: { $0.name == CacheConfig.defaultCollection }) {
            specs.insert(specs.remove(at: i), at: 0)
        } else {
            specs.insert(CacheConfig.CollectionSpec(name: CacheConfig.defaultCollection,
                                                    log2Size: CacheConfig.defaultLog2Size, replicated: false), at: 0)
        }
        let threshold = Int64(config.execThreshold)
        var collections: [Collection] = []
        for s in specs {
            if s.replicated {
                host.log(.notice, "collection <\(s.name)> is marked replicated (/r): Switchyard has no cluster replication, the flag is ignored")
            }
            let shards = min(s.log2Size, CacheConfig.maxLog2Shards)
            if shards < s.log2Size {
                host.log(.notice, "collection <\(s.name)>: hash size 2^\(s.log2Size) capped at 2^\(shards) lock shards (each grows on demand)")
            }
            collections.append(Collection(name: s.name, log2Shards: shards, replicated: s.replicated, host: host,
                                          thresholdMicros: threshold))
        }
        func find(_ name: String?, _ url: CacheConfig.URLSpec) throws(PluginError) -> Collection {
            let n = name ?? CacheConfig.defaultCollection
            guard let c = collections.first(where: { $0.name == n }) else {
                throw PluginError("cachedb_url '\(url.text)': collection <\(n)> not defined (add it to cache_collections)")
            }
            return c
        }
        var noGroup: Collection? = nil
        var noGroupURL: String? = nil
        var groups: [String: (Collection, String)] = [:]
        if config.urls.isEmpty {
            noGroup = collections[0] // no URL at all: "local" works on `default`
        }
        for url in config.urls {
            let c = try find(url.collection, url)
            if let g = url.group {
                if let previous = groups[g] {
                    host.log(.warn, "cachedb_url '\(url.text)' redefines group '\(g)' (was '\(previous.1)'): the last definition wins")
                }
                groups[g] = (c, url.text)
            } else {
                if let previous = noGroupURL {
                    host.log(.warn, "cachedb_url '\(url.text)' redefines the connection without group (was '\(previous)'): the last definition wins")
                }
                noGroup = c
                noGroupURL = url.text
            }
        }
        return CacheTopology(collections: collections, noGroup: noGroup, groups: groups.mapValues { $0.0 },
                             cleanPeriod: config.cleanPeriod)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
