// Loading a partition's table: version check (9), one SELECT, one destination per usable row. A row that cannot be
// used (no set id, an empty or unparsable destination, a host that does not resolve) is skipped with a log line; a
// weight that is neither a non-negative integer nor an fs:// URL fails the whole load, as in OpenSIPS.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import DispatcherSelection
import SwitchyardPluginKit

struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct LoadResult {
    let data: PartitionData
    let loaded: Int
    let discarded: Int
}

/// Binds fs:// weights to boxes of the freeswitch module (nil when fetch_freeswitch_stats is off).
struct FSBinder: @unchecked Sendable { // the table is immutable and thread-safe per the freeswitch API
    let api: UnsafePointer<sy_freeswitch_api>
    let hasWatch: Bool
    let host: PluginHost

    /// A reference to the box of `url` (the shared connection the script uses), or nil with the reason.
    func bind(_ url: String) -> Result<FSRef, LoadError> {
        var err = [CChar](repeating: 0, count: 256)
        // Through the table's own module handle (freeswitch API 1.2), else the 1.0 entry.
        let module = CTable.has(api, \.module_get_box) ? api.pointee.module : nil
        let box = url.withCString { u in err.withUnsafeMutableBufferPointer { e in
            if let module, let f = api.pointee.module_get_box { return f(module, u, strlen(u), e.baseAddress, e.count) }
            return api.pointee.get_box(u, strlen(u), e.baseAddress, e.count)
        } }
        guard let box else {
            return .failure(LoadError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        var h = sy_str()
        var port: UInt16 = 0
        api.pointee.box_id(box, &h, &port)
        let ref = FSRef(api: api, box: box, label: "\(h.string):\(port)", host: host)
        if hasWatch, let watch = api.pointee.watch {
            ref.watch = watch(box, fsWatchCallback, Unmanaged.passUnretained(ref).toOpaque())
        }
        return .success(ref)
    }
}

enum Loader {
    static let tableVersion: Int64 = 9

    /// `reloading`: a ds_reload (DNS that does not answer then fails the load instead of dropping the destination).
    static func load(_ part: Partition, cfg: DSConfig, fs: FSBinder?, host: PluginHost,
                     reloading: Bool) throws(LoadError) -> LoadResult {
        let db = part.db
        let table = part.cfg.table
        do {
            let v = try db.select("version", ["table_version"], where: [("table_name", .text(table))])
            guard let ver = v.first?.first?.int else { throw LoadError("table \(table): no row in the version table") }
            guard ver == tableVersion else {
                throw LoadError("table \(table): version \(ver), expected \(tableVersion)")
            }
        } catch let e as LoadError { throw e } catch { throw LoadError("table \(table): cannot read its version: \(error)") }
        let c = cfg.cols
        var columns = [c.setid, c.destination, c.socket, c.weight, c.attrs, c.priority, c.description, c.probeMode]
        if part.persistent { columns.append(c.state) }
        let rows: [[DBValue]]
        do { rows = try db.select(table, columns) } catch { throw LoadError("cannot load \(table): \(error)") }

        struct Row { var setID: Int; var uri: String; var parsed: DestURI; var socket: String; var weight: Int
                     var fsURL: String?; var attrs: String?; var priority: Int; var description: String?
                     var probeMode: Int; var state: UInt8; var order: Int }
        var good: [Row] = []
        var discarded = 0
        for (n, r) in rows.enumerated() {
            guard let setID = r[0].int else { host.log(.warn, "\(table): row \(n + 1) has no set id: skipped"); discarded += 1; continue }
            let uri = (r[1].string ?? "").trimmingSpaces()
            guard !uri.isEmpty else { host.log(.err, "\(table): set \(setID): empty destination: skipped"); discarded += 1; continue }
            guard let parsed = DestURI.parse(uri) else {
                host.log(.err, "\(table): set \(setID): bad destination URI <\(DestURI.redacted(uri))>: skipped"); discarded += 1; continue
            }
            var weight = 1
            var fsURL: String? = nil
            switch r[3] {
            case .int(let i):
                guard i >= 0 else { throw LoadError("\(table): set \(setID) <\(DestURI.redacted(uri))>: negative weight \(i)") }
                weight = Int(min(i, 65535))
            case .text(let t):
                let w = t.trimmingSpaces()
                if w.hasPrefix("fs://") {
                    fsURL = w
                } else if w.isEmpty {
                    weight = 1
                } else {
                    guard let i = Int(w), i >= 0 else {
                        throw LoadError("\(table): set \(setID) <\(DestURI.redacted(uri))>: weight '\(w)' is neither a non-negative integer nor an fs:// URL")
                    }
                    weight = min(i, 65535)
                }
            case .double(let d): weight = Int(max(0, min(d, 65535)))
            case .null: weight = 1
            }
            var probeMode = Int(r[7].int ?? 0)
            if probeMode != 0 && probeMode != 1 {
                host.log(.warn, "\(table): set \(setID) <\(DestURI.redacted(uri))>: probe_mode \(probeMode) unknown, 0 used"); probeMode = 0
            }
            var state: UInt8 = 0
            if part.persistent, r.count > 8 {
                switch r[8].int ?? 0 {
                case 0: state = 0
                case 1: state = DSFlag.inactive
                case 2: state = DSFlag.probing
                case let s: host.log(.warn, "\(table): set \(setID) <\(DestURI.redacted(uri))>: state \(s) unknown, loaded as active")
                }
            }
            let socket = (r[2].string ?? "").trimmingSpaces()
            good.append(Row(setID: Int(setID), uri: uri, parsed: parsed, socket: socket, weight: weight, fsURL: fsURL,
                            attrs: r[4].string, priority: Int(r[5].int ?? 0), description: r[6].string,
                            probeMode: probeMode, state: state, order: n))
        }

        let maxFS = Int(max(0, min(cfg.maxFreeswitchWeight, 65535)))
        var bySet: [Int: [Destination]] = [:]
        var fsSets: Set<Int> = []
        var loaded = 0
        for row in good {
            let (addrs, dnsFailed) = row.parsed.resolve(using: host)
            // DNS down or silent during a reload: the old sets are kept rather than lose this destination for a
            // transient failure (a name that does not exist is skipped as at startup, as OpenSIPS's add_dest2list).
            if addrs.isEmpty && dnsFailed && reloading {
                throw LoadError("DNS did not answer for host '\(row.parsed.host)' of <\(DestURI.redacted(row.uri))> in set \(row.setID)")
            }
            guard !addrs.isEmpty else {
                host.log(.err, "\(table): set \(row.setID): host of <\(DestURI.redacted(row.uri))> does not resolve: skipped")
                discarded += 1
                continue
            }
            var fsRef: FSRef? = nil
            var weight = row.weight
            if let url = row.fsURL {
                if let fs {
                    switch fs.bind(url) {
                    case .success(let ref):
                        fsRef = ref
                        weight = maxFS
                        fsSets.insert(row.setID)
                    case .failure(let e):
                        host.log(.err, "\(table): set \(row.setID) <\(DestURI.redacted(row.uri))>: cannot use its FreeSWITCH box (\(e)): static weight 1")
                    }
                }
            }
            var algoVar: SYVar? = nil
            if let pattern = cfg.pvarAlgoPattern {
                let spec = pattern.replacingAll("%u", with: row.uri).replacingAll("%i", with: String(row.setID))
                algoVar = try? host.varParse(spec)
            }
            let d = Destination(setID: row.setID, uri: row.uri, dstURI: row.parsed.dstURI(written: row.uri),
                                host: row.parsed.host, hostPort: row.parsed.hostPort, socket: row.socket, attrs: row.attrs,
                                description: row.description, priority: row.priority, probeMode: row.probeMode,
                                addresses: addrs, weight: weight, flags: row.state, fs: fsRef, algoVar: algoVar)
            bySet[row.setID, default: []].append(d)
            loaded += 1
        }
        var sets: [DSSet] = []
        for (id, dests) in bySet {
            // Highest priority first, table order among equals (a stable sort of the table order).
            let ordered = dests.enumerated().sorted { a, b in
                a.element.priority != b.element.priority ? a.element.priority > b.element.priority : a.offset < b.offset
            }.map(\.element)
            let hasFS = fsSets.contains(id)
            if hasFS {
                for d in ordered where d.fs == nil && d.weight.load(ordering: .relaxed) > maxFS {
                    host.log(.warn, "set \(id) <\(DestURI.redacted(d.uri))>: static weight \(d.weight.load(ordering: .relaxed)) truncated to max_freeswitch_weight \(maxFS) (the set has FreeSWITCH destinations)")
                    d.weight.store(maxFS, ordering: .relaxed)
                }
            }
            sets.append(DSSet(id: id, dests: ordered, hasFS: hasFS))
        }
        return LoadResult(data: PartitionData(sets: sets), loaded: loaded, discarded: discarded)
    }

    /// Gives each new destination the state of the old one with the same set id and URI (case-insensitive), as
    /// OpenSIPS's ds_inherit_state after the swap. Called as the last step before the new data is published, so a
    /// change made while the load resolved names is not lost. A change not yet written back (dirty) moves with it,
    /// taken from the old destination with exchange so exactly one of the two owns the pending write.
    static func inheritState(from previous: PartitionData, into new: PartitionData) {
        var old: [String: Destination] = [:]
        for s in previous.sets {
            for d in s.dests { old["\(s.id)\u{1}\(d.uri.lowercased())"] = d }
        }
        for s in new.sets {
            for d in s.dests {
                guard let o = old["\(s.id)\u{1}\(d.uri.lowercased())"] else { continue }
                let dirty = o.dirty.exchange(false, ordering: .acquiring)
                d.flags.store(o.flags.load(ordering: .relaxed), ordering: .relaxed)
                if dirty { d.dirty.store(true, ordering: .releasing) }
            }
        }
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
