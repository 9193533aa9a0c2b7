// Module parameters and partitions, as OpenSIPS's dispatcher takes them. The plain modparams (db_url, table_name,
// the AVP names, ...) configure the partition "default"; `partition` lines define others ("NAME: key = value; ...")
// which inherit the default partition's values, AVP names getting "_<name>" before their closing parenthesis.
import DispatcherSelection
import SwitchyardPluginKit

/// One partition's settings (resolved: every key has its value).
struct PartitionConfig: Sendable {
    var name: String
    var dbURL = ""
    var table = "dispatcher"
    var dstAVP = "$avp(ds_dst_failover)"
    var grpAVP = "$avp(ds_grp_failover)"
    var cntAVP = "$avp(ds_cnt_failover)"
    var sockAVP = "$avp(ds_sock_failover)"
    var attrsAVP: String? = nil
    var scriptAttrsAVP: String? = nil
    var pingFrom: String? = nil
    var pingMethod: String? = nil
    var pingSock: String? = nil
    var persistentState: Bool? = nil
}

/// Column names (global: every partition's table uses them).
struct Columns: Sendable {
    var setid = "setid", destination = "destination", socket = "socket", state = "state", weight = "weight"
    var priority = "priority", attrs = "attrs", description = "description", probeMode = "probe_mode"
}

struct DSConfig: Sendable {
    var cols = Columns()
    /// The default partition's plain modparams (nil = not set).
    var dbURL: String? = nil
    var table: String? = nil
    var dstAVP: String? = nil, grpAVP: String? = nil, cntAVP: String? = nil, sockAVP: String? = nil
    var attrsAVP: String? = nil, scriptAttrsAVP: String? = nil
    /// `partition` lines in order: (name, raw settings text).
    var partitionLines: [(String, String)] = []
    var algoRoute: String? = nil
    var hashPvar: String? = nil
    var setidPvar: String? = nil
    var pvarAlgoPattern: String? = nil
    var pingMethod = "OPTIONS"
    var pingFrom = "sip:dispatcher@localhost"
    var pingInterval: Int64 = 0
    var pingMaxfwd: Int64 = -1
    var probingSock = ""
    var probingThreshold: Int64 = 3
    var probingMode: Int64 = 0
    var probingList: Set<Int>? = nil
    var optionsReplyCodes: [Int] = []
    var persistentState = true
    var fetchFreeswitchStats = false
    var maxFreeswitchWeight: Int64 = 100
    /// Switchyard: weight of a FreeSWITCH destination while its box's ESL connection is down (-1 = keep the last
    /// computed weight, as OpenSIPS does).
    var freeswitchLostWeight: Int64 = -1
    /// Switchyard: how long a probe waits for its final reply (ms); 0 = min(ds_ping_interval / 2, 5 s).
    var pingTimeoutMs: Int64 = 0
    /// Switchyard: seed of algorithm 6 (0 = random).
    var randomSeed: UInt64 = 0
}

enum PartitionParse {
    static let keys: Set<String> = ["db_url", "table_name", "dst_avp", "grp_avp", "cnt_avp", "sock_avp", "attrs_avp",
                                    "script_attrs_avp", "ping_from", "ping_method", "persistent_state", "ping_sock",
                                    "ds_define_blacklist"]

    /// Splits "NAME: key = value; key = value" (a ':' followed by '/' is not the separator: URLs stay whole).
    static func split(_ line: String) throws(PluginError) -> (String, String) {
        let chars = Array(line)
        var i = 0
        while i < chars.count {
            if chars[i] == ":" && !(i + 1 < chars.count && chars[i + 1] == "/") { break }
            i += 1
        }
        guard i < chars.count else { throw PluginError("partition '\(line)': expected 'name: key=value; ...'") }
        let name = String(chars[..<i]).trimmingSpaces()
        guard !name.isEmpty else { throw PluginError("partition '\(line)': empty name") }
        return (name, String(chars[(i + 1)...]))
    }

    /// key = value pairs of a partition's settings text.
    static func pairs(_ text: String) throws(PluginError) -> [(String, String)] {
        var out: [(String, String)] = []
        for part in text.split(separator: ";") {
            let t = part.trimmingSpaces()
            if t.isEmpty { continue }
            guard let eq = t.firstIndex(of: "=") else { throw PluginError("partition setting '\(t)': expected key = value") }
            let k = t[..<eq].trimmingSpaces()
            let v = t[t.index(after: eq)...].trimmingSpaces()
            guard keys.contains(k) else { throw PluginError("partition setting '\(k)' is unknown") }
            out.append((k, v))
        }
        return out
    }

    /// "$avp(x)" -> "$avp(x_name)".
    static func suffixed(_ avp: String, _ name: String) -> String {
        guard avp.hasSuffix(")") else { return avp + "_" + name }
        return String(avp.dropLast()) + "_" + name + ")"
    }

    static func bool(_ v: String) throws(PluginError) -> Bool {
        switch v.lowercased() {
        case "1", "yes", "on": return true
        case "0", "no", "off": return false
        default: throw PluginError("persistent_state '\(v)': expected 0/1/yes/no/on/off")
        }
    }

    /// Every partition, the default one first; the name scripts use for "no partition argument".
    static func resolve(_ c: DSConfig) throws(PluginError) -> (parts: [PartitionConfig], defaultName: String) {
        var base = PartitionConfig(name: "default")
        if let v = c.dbURL { base.dbURL = v }
        if let v = c.table { base.table = v }
        if let v = c.dstAVP { base.dstAVP = v }
        if let v = c.grpAVP { base.grpAVP = v }
        if let v = c.cntAVP { base.cntAVP = v }
        if let v = c.sockAVP { base.sockAVP = v }
        base.attrsAVP = c.attrsAVP
        base.scriptAttrsAVP = c.scriptAttrsAVP
        var defaultAlias: String? = nil
        var named: [PartitionConfig] = []
        var explicitDefault = c.dbURL != nil || c.table != nil || c.dstAVP != nil || c.grpAVP != nil || c.cntAVP != nil
            || c.sockAVP != nil || c.attrsAVP != nil || c.scriptAttrsAVP != nil
        for (name, text) in c.partitionLines {
            let trimmed = text.trimmingSpaces()
            if name == "default" && !trimmed.contains("=") {
                guard !trimmed.isEmpty else { throw PluginError("partition 'default:' needs the name of a partition") }
                defaultAlias = trimmed
                continue
            }
            if name == "default" {
                explicitDefault = true
                for (k, v) in try pairs(text) { try apply(k, v, to: &base) }
                continue
            }
            var p = PartitionConfig(name: name, dbURL: base.dbURL, table: base.table,
                                    dstAVP: suffixed(base.dstAVP, name), grpAVP: suffixed(base.grpAVP, name),
                                    cntAVP: suffixed(base.cntAVP, name), sockAVP: suffixed(base.sockAVP, name),
                                    attrsAVP: base.attrsAVP.map { suffixed($0, name) },
                                    scriptAttrsAVP: base.scriptAttrsAVP.map { suffixed($0, name) })
            for (k, v) in try pairs(text) { try apply(k, v, to: &p) }
            if let i = named.firstIndex(where: { $0.name == name }) { named[i] = p } else { named.append(p) }
        }
        var parts: [PartitionConfig] = []
        if let alias = defaultAlias {
            guard named.contains(where: { $0.name == alias }) else {
                throw PluginError("partition 'default: \(alias)': no partition named '\(alias)'")
            }
            parts = named
            return (parts, alias)
        }
        if explicitDefault || named.isEmpty {
            guard !base.dbURL.isEmpty else { throw PluginError("missing default partition (set db_url)") }
            parts.append(base)
        }
        for p in named where p.dbURL.isEmpty { throw PluginError("partition '\(p.name)' has no db_url") }
        return (parts + named, "default")
    }

    private static func apply(_ k: String, _ v: String, to p: inout PartitionConfig) throws(PluginError) {
        switch k {
        case "db_url": p.dbURL = v
        case "table_name": p.table = v
        case "dst_avp": p.dstAVP = v
        case "grp_avp": p.grpAVP = v
        case "cnt_avp": p.cntAVP = v
        case "sock_avp": p.sockAVP = v
        case "attrs_avp": p.attrsAVP = v
        case "script_attrs_avp": p.scriptAttrsAVP = v
        case "ping_from": p.pingFrom = v
        case "ping_method": p.pingMethod = v
        case "ping_sock": p.pingSock = v
        case "persistent_state": p.persistentState = try bool(v)
        default: break // ds_define_blacklist: accepted, blacklists are not implemented
        }
    }
}
