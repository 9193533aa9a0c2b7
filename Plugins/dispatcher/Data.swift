// The in-memory sets. A load builds immutable destinations and sets; what changes at run time (state flags, the
// FreeSWITCH-driven weight, counters, script attrs) lives in atomics (or a small lock) inside each destination, so
// selection reads it without a lock and a reload swaps whole PartitionData objects.
import SwitchyardABI
import DispatcherSelection
import SwitchyardPluginKit
import Synchronization

enum DSFlag {
    static let inactive: UInt8 = 1
    static let probing: UInt8 = 2
}

/// A FreeSWITCH box bound for a destination's weight: one reference (get_box) and one watch, both released when the
/// destination is dropped (a reload that removes the row, or replaces it).
final class FSRef: @unchecked Sendable { // immutable once bound (`watch` is set before it is shared); the C handles are thread-safe per the freeswitch API
    let api: UnsafePointer<sy_freeswitch_api>
    let box: OpaquePointer
    let label: String
    let host: PluginHost
    var watch: OpaquePointer? = nil // set once right after init, before the object is shared
    /// What the box's watch said last: 0 nothing yet, 1 up, 2 down.
    let link = Atomic<Int>(0)

    init(api: UnsafePointer<sy_freeswitch_api>, box: OpaquePointer, label: String, host: PluginHost) {
        self.api = api
        self.box = box
        self.label = label
        self.host = host
    }

    deinit {
        if let watch { api.pointee.unwatch?(watch) }
        api.pointee.put_box?(box)
    }

    func stats() -> sy_fs_stats {
        var s = sy_fs_stats()
        _ = api.pointee.stats?(box, &s)
        return s
    }
}

final class Destination: Sendable {
    let setID: Int
    /// The URI as written in the table (ds_list, ds_set_state, the probe's R-URI, the first failover entry).
    let uri: String
    /// What selection writes into $du (user, password, headers stripped).
    let dstURI: String
    let host: String
    let hostPort: String
    let socket: String
    let attrs: String?
    let description: String?
    let priority: Int
    let probeMode: Int
    /// Resolved addresses (ds_is_in_list, ds_list). The transport is not kept: nothing reads it (tm resolves `$du`
    /// again when it sends).
    let addresses: [(ip: String, port: Int)]
    let fs: FSRef?
    /// Algorithm 9's variable for this destination (pvar_algo_pattern with %u/%i replaced), if any.
    let algoVar: SYVar?

    let flags: Atomic<UInt8>
    let weight: Atomic<Int>
    let failures = Atomic<Int>(0)
    let chosen = Atomic<Int>(0)
    let rrCount = Atomic<Int>(0)
    /// A state change not yet written back to the table (persistent_state).
    let dirty = Atomic<Bool>(false)
    let scriptAttrs = Mutex<String?>(nil)

    init(setID: Int, uri: String, dstURI: String, host: String, hostPort: String, socket: String, attrs: String?,
         description: String?, priority: Int, probeMode: Int, addresses: [(ip: String, port: Int)], weight: Int,
         flags: UInt8, fs: FSRef?, algoVar: SYVar?) {
        self.setID = setID; self.uri = uri; self.dstURI = dstURI; self.host = host; self.hostPort = hostPort
        self.socket = socket; self.attrs = attrs; self.description = description; self.priority = priority
        self.probeMode = probeMode; self.addresses = addresses; self.fs = fs; self.algoVar = algoVar
        self.weight = Atomic(weight)
        self.flags = Atomic(flags)
    }

    var isActive: Bool { flags.load(ordering: .relaxed) & (DSFlag.inactive | DSFlag.probing) == 0 }

    var stateName: String {
        let f = flags.load(ordering: .relaxed)
        if f & DSFlag.inactive != 0 { return "Inactive" }
        if f & DSFlag.probing != 0 { return "Probing" }
        return "Active"
    }

    /// Value of the DB `state` column for the current flags.
    var dbState: Int64 {
        let f = flags.load(ordering: .relaxed)
        return f & DSFlag.inactive != 0 ? 1 : (f & DSFlag.probing != 0 ? 2 : 0)
    }
}

final class DSSet: Sendable {
    let id: Int
    /// Highest priority first; equal priorities in table order.
    let dests: [Destination]
    /// Last selected index (shared by every worker, as in OpenSIPS).
    let last = Atomic<Int>(0)
    /// Has FreeSWITCH-driven weights.
    let hasFS: Bool

    init(id: Int, dests: [Destination], hasFS: Bool) {
        self.id = id
        self.dests = dests
        self.hasFS = hasFS
    }
}

/// One partition's loaded data; replaced whole by ds_reload.
final class PartitionData: Sendable {
    let sets: [DSSet]
    let index: [Int: Int]

    init(sets: [DSSet]) {
        self.sets = sets.sorted { $0.id < $1.id }
        var idx: [Int: Int] = [:]
        for (i, s) in self.sets.enumerated() { idx[s.id] = i }
        index = idx
    }

    static let empty = PartitionData(sets: [])

    func set(_ id: Int) -> DSSet? { index[id].map { sets[$0] } }
}

/// An AVP used as a stack: `one` pushes/pops/reads the newest, `all` (`$(avp(x)[*])`) clears all at once.
struct AVPVar: Sendable {
    let one: SYVar
    let all: SYVar?

    init(_ spec: String, host: PluginHost) throws(PluginError) {
        one = try host.varParse(spec)
        all = spec.hasPrefix("$avp(") && spec.hasSuffix(")") ? try? host.varParse("$(" + spec.dropFirst() + "[*])") : nil
    }
}

/// A partition: its settings, variables, database and current data.
final class Partition: Sendable {
    let cfg: PartitionConfig
    let db: DBConnection
    let dst: AVPVar, grp: AVPVar, cnt: AVPVar, sock: AVPVar
    let attrs: AVPVar?, scriptAttrs: AVPVar?
    let persistent: Bool
    private let current: Mutex<PartitionData>
    let reloadLock = Mutex(())

    init(cfg: PartitionConfig, db: DBConnection, host: PluginHost, persistentDefault: Bool) throws(PluginError) {
        self.cfg = cfg
        self.db = db
        dst = try AVPVar(cfg.dstAVP, host: host)
        grp = try AVPVar(cfg.grpAVP, host: host)
        cnt = try AVPVar(cfg.cntAVP, host: host)
        sock = try AVPVar(cfg.sockAVP, host: host)
        attrs = try cfg.attrsAVP.map { s throws(PluginError) in try AVPVar(s, host: host) }
        scriptAttrs = try cfg.scriptAttrsAVP.map { s throws(PluginError) in try AVPVar(s, host: host) }
        persistent = cfg.persistentState ?? persistentDefault
        current = Mutex(PartitionData.empty)
    }

    var data: PartitionData { current.withLock { $0 } }

    /// Swaps in new data; returns the old.
    @discardableResult
    func publish(_ d: PartitionData) -> PartitionData { current.withLock { old in defer { old = d }; return old } }

    var isDefault: Bool { cfg.name == "default" }
}
