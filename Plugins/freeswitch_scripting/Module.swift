// The OpenSIPS `freeswitch_scripting` module as a Switchyard plugin: FreeSWITCH events into event_route[E_FREESWITCH],
// ESL commands from the script (freeswitch_esl), subscriptions from modparams, a DB table and MI.
//
// It owns no socket: it binds the "freeswitch" API (switchyard_freeswitch.h) published by the `freeswitch` module.
// Its pool — box → subscribed events — is replaced atomically by fs_reload. See README.md next to this file.
import Foundation
import SwitchyardABI
import SwitchyardESL
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: ScriptingModule.name) else { return nil } // another ABI major: refuse
    return ScriptingModule(host: host).build().pointer // allocated once, never freed
}

struct FSSConfig: Sendable {
    var dbURL = ""
    var table = "freeswitch"
    var colUser = "username"
    var colPassword = "password"
    var colIP = "ip"
    var colPort = "port"
    var colEvents = "events_csv"
    var subscribeURLs: [String] = []
}

/// One box of the pool: the reference we hold and the events subscribed, in order.
struct PoolEntry: @unchecked Sendable { // raw pointers owned by the freeswitch module, used under its rules
    let box: OpaquePointer
    let label: String // host:port
    var events: [(name: String, sub: OpaquePointer)]
}

// @unchecked Sendable: `api`/`config` are frozen in init, `eventsHere` and `eventsInLane` are set in start() before
// the first subscription (so before any I/O thread calls back and reads them; the subscribe call orders the write
// before those reads), and the pool is behind its Mutex.
final class ScriptingModule: @unchecked Sendable {
    static let name = "freeswitch_scripting"
    static let version = "1.0.0"
    static let event = "E_FREESWITCH"

    let host: PluginHost
    private let pendingConfig = Mutex(FSSConfig())
    private(set) var config = FSSConfig()
    private(set) var api: UnsafePointer<sy_freeswitch_api>? = nil
    private var db: DBConnection? = nil
    /// Ordered pool: boxes in the order they were first added.
    private let pool = Mutex<[PoolEntry]>([])
    /// Serialises whole subscribe/unsubscribe/reload operations (the pool lock itself is short).
    private let opLock = Mutex(())

    /// Events arrive as values (subscribe_value; a plain event's body is then a tree) only on a core of ABI 1.9 or
    /// later: an older core does not take an SY_VAL_OBJECT event parameter, so there they arrive as JSON text
    /// (subscribe). The environment variable SWITCHYARD_TEST_FSS_TEXT_EVENTS forces text (a test hook: the core
    /// under test is always the newest).
    let valueEvents: Bool

    /// The I/O thread runs an event's route itself when every worker sleeps and the box is not in a burst
    /// (core ABI 1.10 rt_event_raise_here, freeswitch API 1.5 box_burst): one thread wake-up less per event.
    /// Set in start().
    private(set) var eventsHere = false
    /// Without box_burst (a freeswitch module of API 1.4) but on a core of ABI 1.10 or later: every event is
    /// queued in the raising thread's lane (rt_event_raise_here with SY_EVENT_MORE_BEHIND, so never run here), which
    /// keeps the box's order on the workers; event_raise_wait, the older way, shares one queue that does not.
    /// Set in start().
    private(set) var eventsInLane = false

    init(host: PluginHost) {
        self.host = host
        valueEvents = host.abiVersion.minor >= 9 && getenv("SWITCHYARD_TEST_FSS_TEXT_EVENTS") == nil
    }

    /// Subscribes `name` on `box` with this module's callback (value or text, see valueEvents).
    private func subscribeOne(_ api: UnsafePointer<sy_freeswitch_api>, _ box: OpaquePointer, _ name: String) -> OpaquePointer? {
        let user = userPointer
        return sy_str.with(name) { s in
            withUnsafePointer(to: s) {
                valueEvents ? api.pointee.subscribe_value?(box, $0, 1, Self.onEvent, user)
                    : api.pointee.subscribe?(box, $0, 1, Self.onText, user)
            }
        }
    }

    var userPointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "FreeSWITCH events to event_route[E_FREESWITCH] and ESL commands from the script")
        m.dependency(on: "freeswitch", .hard)
        m.dependencyOnAnyDatabase(.soft)
        func str(_ name: String, _ apply: @escaping @Sendable (inout FSSConfig, String) -> Void) {
            m.param(name, .str) { [self] v in
                guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be a non-empty string") }
                pendingConfig.withLock { apply(&$0, s) }
            }
        }
        str("db_url") { $0.dbURL = $1 }
        str("db_table") { $0.table = $1 }
        str("db_col_username") { $0.colUser = $1 }
        str("db_col_password") { $0.colPassword = $1 }
        str("db_col_ip") { $0.colIP = $1 }
        str("db_col_port") { $0.colPort = $1 }
        str("db_col_events") { $0.colEvents = $1 }
        m.param("fs_subscribe", [.str, .repeatable]) { [self] v in
            guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be an ESL URL") }
            // Checked here, not only at startup, so `-c` refuses the URL startup would refuse.
            do { _ = try ESLBoxURL.parse(s) } catch { throw PluginError("\(Self.redact(s)): \(error)") }
            pendingConfig.withLock { $0.subscribeURLs.append(s) }
        }
        m.event(Self.event)

        // freeswitch_esl(command, fs_url[, $output])
        m.function("freeswitch_esl", params: [.str, .str, [.var, .optional]]) { [self] call in
            esl(call)
        }

        let urlRecipe = [["freeswitch_url", "events"]]
        for (flat, qualified, help) in [("fs_subscribe", "freeswitch_scripting:subscribe", "subscribe a FreeSWITCH box to events"),
                                        ("fs_unsubscribe", "freeswitch_scripting:unsubscribe", "unsubscribe events of a FreeSWITCH box")] {
            let on = flat == "fs_subscribe"
            for name in [flat, qualified] {
                // Positional parameters too, as OpenSIPS: `opensips-cli -x mi fs_subscribe <url> DTMF HEARTBEAT`.
                m.miCommand(name, help: help, recipes: urlRecipe) { [self] req in
                    miSubscribe(req, on: on)
                }
            }
        }
        for name in ["fs_list", "freeswitch_scripting:list"] {
            m.miCommand(name, help: "list the FreeSWITCH boxes and their subscribed events") { [self] _ in miList() }
        }
        for name in ["fs_reload", "freeswitch_scripting:reload"] {
            m.miCommand(name, help: "reload the subscriptions from the database") { [self] _ in miReload() }
        }
        m.onInit { [self] in try start() }
        m.onDestroy { [self] in stop() }
        return m.build()
    }

    // MARK: Lifecycle

    func start() throws {
        config = pendingConfig.withLock { $0 }
        // Bound at the size this module cannot do without (1.3's subscribe_value for value events, else 1.0): the
        // later entries (module_get_box, box_burst) are looked for with CTable.has, so an older freeswitch module is
        // used without them (events queued for the workers) rather than refused.
        let needed = valueEvents ? MemoryLayout<sy_freeswitch_api>.offset(of: \.subscribe_value)! + MemoryLayout<UnsafeRawPointer>.size
            : MemoryLayout<sy_freeswitch_api>.offset(of: \.watch)!
        api = try host.apiBind(SY_FS_API_NAME, major: UInt32(SY_FS_MAJOR), minSize: UInt32(needed))
            .assumingMemoryBound(to: sy_freeswitch_api.self)
        eventsHere = host.providesRaiseHere && api.map { CTable.has($0, \.box_burst) && $0.pointee.box_burst != nil } == true
        // Only from API 1.4 (box_backlog): from it on, a command's caller reads its own reply. With an older module
        // only the box's reader reads replies, so a worker holding the box's full lane and waiting for a reply would
        // wait for a reader blocked on that lane (each command stalled until esl_cmd_timeout); the shared queue is
        // drained by the other workers.
        eventsInLane = host.providesRaiseHere && !eventsHere && api.map { CTable.has($0, \.box_backlog) } == true
        if !config.dbURL.isEmpty {
            do { db = try DBConnection(host: host, url: config.dbURL) } catch {
                throw PluginError("db_url: \(error)")
            }
            switch loadDB() {
            case .success(let rows): install(rows, replacing: false)
            case .failure(let e): host.log(.err, "cannot load table \(config.table): \(e.description)") // as OpenSIPS: logged only
            }
        }
        for url in config.subscribeURLs {
            let events = Self.urlEvents(url)
            if events.isEmpty { host.log(.warn, "fs_subscribe \(Self.redact(url)): no events after '?'") }
            if case .failure(let e) = subscribe(url, events) {
                throw PluginError("fs_subscribe \(Self.redact(url)): \(e.description)")
            }
        }
    }

    func stop() {
        guard let api else { return }
        let entries = pool.withLock { p -> [PoolEntry] in defer { p = [] }; return p }
        for e in entries {
            for ev in e.events { api.pointee.unsubscribe?(ev.sub) }
            api.pointee.put_box?(e.box)
        }
    }

    // MARK: Events

    /// Raised on the box's I/O thread: waits for room in the event queue (backpressure) rather than dropping.
    /// `body` is the JSON text of a JSON event, or a plain event's headers as a tree (ABI 1.9): the core keeps the
    /// tree, `$json(x) := $param(body)` takes it as is, and its JSON text is written only if the script reads it so.
    /// With `eventsHere`, the route runs on this thread when no worker is busy and the box is not in a burst
    /// (box_burst: more of its stream waits behind this event and waited behind the previous one; the box's reader
    /// keeps that state, so two events that arrive together at a paced rate both run here, and only a lasting
    /// backlog goes to the workers — a worker woken for one event of a pair costs more wake-ups, the worker's and
    /// its reply's, than this thread running both in turn): a command the route sends to the box is then read by
    /// this thread itself (the freeswitch module's awaitReply on the I/O thread), and other callers waiting for
    /// replies read the socket themselves meanwhile.
    func raise(box: OpaquePointer?, sender: sy_str, name: sy_str, body: sy_value) {
        func param(_ n: StaticString, _ v: sy_value) -> sy_event_param {
            var p = sy_event_param()
            p.name = sy_str(s: UnsafeRawPointer(n.utf8Start).assumingMemoryBound(to: CChar.self), len: n.utf8CodeUnitCount)
            p.value = v
            return p
        }
        func text(_ s: sy_str) -> sy_value {
            var v = sy_value()
            v.type = Int32(SY_VAL_STR.rawValue)
            v.s = s
            return v
        }
        let params = [param("name", text(name)), param("sender", text(sender)), param("body", body)]
        // No timeout (waitMS 0): on a core with event_raise_wait a negative code only means the core is stopping (or
        // its runtime is gone); it counts such events and says so in one line when it stops, and a warning per event
        // here would flood the log of a normal shutdown while the box still streams. An older core (raiseEvent falls
        // back to event_raise) drops on a full queue instead, and counts and logs its drops itself.
        _ = params.withUnsafeBufferPointer { p in
            if eventsHere, let api, let burst = api.pointee.box_burst {
                return host.raiseEventHere(Self.event, params: p, waitMS: 0, moreBehind: burst(box) != 0)
            }
            if eventsInLane { return host.raiseEventHere(Self.event, params: p, waitMS: 0, moreBehind: true) }
            return host.raiseEvent(Self.event, params: p, waitMS: 0)
        }
    }

    static let onEvent: sy_fs_event_value_fn = { user, box, host, name, _, body in
        guard let user, let body else { return }
        Unmanaged<ScriptingModule>.fromOpaque(user).takeUnretainedValue().raise(box: box, sender: host, name: name, body: body.pointee)
    }

    /// Before ABI 1.9 (valueEvents false): the body as JSON text.
    static let onText: sy_fs_event_fn = { user, box, host, name, _, body in
        guard let user else { return }
        var v = sy_value()
        v.type = Int32(SY_VAL_STR.rawValue)
        v.s = body
        Unmanaged<ScriptingModule>.fromOpaque(user).takeUnretainedValue().raise(box: box, sender: host, name: name, body: v)
    }

    // MARK: Pool operations

    struct OpError: Error, CustomStringConvertible { let description: String }

    /// Normalised event name for comparisons ("dtmf" = "DTMF"; CUSTOM subclasses kept as written).
    static func norm(_ e: String) -> String {
        let t = e.trimmingCharacters(in: .whitespaces)
        let w = t.split(separator: " ", omittingEmptySubsequences: true)
        if w.count >= 2, w[0].uppercased() == "CUSTOM" { return "CUSTOM " + w[1...].joined(separator: " ") }
        return t.uppercased()
    }

    static func urlEvents(_ url: String) -> [String] {
        guard let q = url.firstIndex(of: "?") else { return [] }
        return url[url.index(after: q)...].split(separator: ",").compactMap {
            let n = $0.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return n.isEmpty ? nil : n
        }
    }

    /// `fs://user:pw@host` → `host` (for logs: never the password).
    static func redact(_ url: String) -> String {
        var s = Substring(url)
        if let r = s.range(of: "://") { s = s[r.upperBound...] }
        if let at = s.lastIndex(of: "@") { s = s[s.index(after: at)...] }
        if let q = s.firstIndex(of: "?") { s = s[..<q] }
        return String(s)
    }

    private func getBox(_ url: String) -> Result<(OpaquePointer, String), OpError> {
        getBoxOnly(url).map { ($0, label(of: $0)) }
    }

    /// The box of `url` (ref++), without building its label.
    private func getBoxOnly(_ url: String) -> Result<OpaquePointer, OpError> {
        var url = url
        return url.withUTF8 { getBoxOnly(UnsafeRawBufferPointer($0)) }
    }

    /// The box of the URL in `u` (ref++): freeswitch_esl runs this per call, on the argument's bytes as they are.
    private func getBoxOnly(_ u: UnsafeRawBufferPointer) -> Result<OpaquePointer, OpError> {
        guard let api else { return .failure(OpError(description: "no freeswitch API")) }
        // Through the table's own module handle (1.2), else the 1.0 entry.
        let module = CTable.has(api, \.module_get_box) ? api.pointee.module : nil
        let viaModule = module != nil ? api.pointee.module_get_box : nil
        guard viaModule != nil || api.pointee.get_box != nil else { return .failure(OpError(description: "no freeswitch API")) }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { err -> Result<OpaquePointer, OpError> in
            err[0] = 0
            let text = u.baseAddress?.assumingMemoryBound(to: CChar.self)
            let box = viaModule.map { $0(module, text, u.count, err.baseAddress, err.count) }
                ?? api.pointee.get_box?(text, u.count, err.baseAddress, err.count)
            guard let box else {
                let msg = String(decoding: UnsafeRawBufferPointer(start: err.baseAddress, count: strlen(err.baseAddress!)), as: UTF8.self)
                return .failure(OpError(description: msg))
            }
            return .success(box)
        }
    }

    /// "host:port" of a box, for logs.
    private func label(of box: OpaquePointer) -> String {
        var h = sy_str()
        var port: UInt16 = 0
        api?.pointee.box_id?(box, &h, &port)
        return "\(h.string):\(port)"
    }

    /// Adds `events` to the box of `url` (creating it: the URL then needs a password).
    func subscribe(_ url: String, _ events: [String]) -> Result<Void, OpError> {
        opLock.withLock { _ in
            guard let api else { return .failure(OpError(description: "no freeswitch API")) }
            let (box, label): (OpaquePointer, String)
            switch getBox(url) { case .success(let v): (box, label) = v; case .failure(let e): return .failure(e) }
            pool.withLock { p in
                var entry: PoolEntry
                let idx = p.firstIndex(where: { $0.label == label })
                if let idx { entry = p[idx]; api.pointee.put_box?(box) } else { entry = PoolEntry(box: box, label: label, events: []) }
                for ev in events {
                    let n = Self.norm(ev)
                    guard !n.isEmpty, !entry.events.contains(where: { $0.name == n }) else { continue }
                    // Newest first, boxes and events alike: fs_list shows them in OpenSIPS's order.
                    if let sub = subscribeOne(api, entry.box, n) { entry.events.insert((n, sub), at: 0) }
                }
                if entry.events.isEmpty && idx == nil {
                    api.pointee.put_box?(entry.box) // nothing subscribed: do not keep the box
                } else if let idx { p[idx] = entry } else { p.insert(entry, at: 0) }
            }
            return .success(())
        }
    }

    /// Removes `events` from the box of `url`; the box is released when its last event goes. Unknown box: nothing.
    /// A URL that names no box (bad, or an unknown box without password) fails, as OpenSIPS's lookup does.
    @discardableResult
    func unsubscribe(_ url: String, _ events: [String]) -> Result<Void, OpError> {
        opLock.withLock { _ in
            guard let api else { return .failure(OpError(description: "no freeswitch API")) }
            let (box, label): (OpaquePointer, String)
            switch getBox(url) { case .success(let v): (box, label) = v; case .failure(let e): return .failure(e) }
            api.pointee.put_box?(box)
            let names = Set(events.map(Self.norm))
            var subs: [OpaquePointer] = []
            var release: OpaquePointer? = nil
            pool.withLock { p in
                guard let idx = p.firstIndex(where: { $0.label == label }) else { return }
                subs = p[idx].events.filter { names.contains($0.name) }.map(\.sub)
                p[idx].events.removeAll { names.contains($0.name) }
                if p[idx].events.isEmpty { release = p[idx].box; p.remove(at: idx) }
            }
            for s in subs { api.pointee.unsubscribe?(s) }
            if let release { api.pointee.put_box?(release) }
            return .success(())
        }
    }

    // MARK: DB

    struct Row { var user: String?; var password: String; var ip: String; var port: Int64; var events: [String] }

    func loadDB() -> Result<[Row], OpError> {
        guard let db else { return .failure(OpError(description: "no db_url")) }
        let c = config
        do {
            if let v = try? db.select("version", ["table_version"], where: [("table_name", .text(c.table))]).first?.first?.int,
               v != 1 {
                return .failure(OpError(description: "table \(c.table) has version \(v), expected 1"))
            }
            let rows = try db.select(c.table, [c.colUser, c.colPassword, c.colIP, c.colPort, c.colEvents])
            var out: [Row] = []
            for (i, r) in rows.enumerated() {
                let ip = (r[2].string ?? "").trimmingCharacters(in: .whitespaces)
                let pw = r[1].string ?? ""
                let events = (r[4].string ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                let port = r[3].int ?? 8021
                guard !ip.isEmpty else { host.log(.err, "\(c.table): row \(i + 1) has no \(c.colIP), skipped"); continue }
                guard !pw.isEmpty else { host.log(.err, "\(c.table): row \(i + 1) (\(ip)) has no \(c.colPassword), skipped"); continue }
                guard !events.isEmpty else { host.log(.err, "\(c.table): row \(i + 1) (\(ip)) has no events, skipped"); continue }
                guard (0...65535).contains(port) else { host.log(.err, "\(c.table): row \(i + 1) (\(ip)) has bad port \(port), skipped"); continue }
                let user = r[0].string.flatMap { $0.isEmpty ? nil : $0 }
                out.append(Row(user: user, password: pw, ip: ip, port: port == 0 ? 8021 : port, events: events))
            }
            return .success(out)
        } catch {
            return .failure(OpError(description: "\(error)"))
        }
    }

    /// Builds a pool from rows (subscribing first), swaps it in, then releases the previous pool (if replacing).
    func install(_ rows: [Row], replacing: Bool) {
        opLock.withLock { _ in
            guard let api else { return }
            var fresh: [PoolEntry] = []
            for r in rows {
                let url = "fs://\(r.user ?? ""):\(r.password)@\(r.ip):\(r.port)"
                let (box, label): (OpaquePointer, String)
                switch getBox(url) {
                case .success(let v): (box, label) = v
                case .failure(let e): host.log(.err, "\(config.table): \(r.ip):\(r.port): \(e.description), skipped"); continue
                }
                var entry: PoolEntry
                let idx = fresh.firstIndex(where: { $0.label == label })
                if let idx { entry = fresh[idx]; api.pointee.put_box?(box) } else { entry = PoolEntry(box: box, label: label, events: []) }
                for ev in r.events {
                    let n = Self.norm(ev)
                    guard !entry.events.contains(where: { $0.name == n }) else { continue }
                    if let sub = subscribeOne(api, entry.box, n) {
                        entry.events.append((n, sub))
                    }
                }
                // A table's boxes newest (last row) first, each box's events in the row's order, as OpenSIPS.
                if let idx { fresh[idx] = entry } else { fresh.insert(entry, at: 0) }
            }
            let old = pool.withLock { p -> [PoolEntry] in
                let o = replacing ? p : []
                p = replacing ? fresh : p + fresh
                return o
            }
            for e in old {
                for ev in e.events { api.pointee.unsubscribe?(ev.sub) }
                api.pointee.put_box?(e.box)
            }
            host.log(.info, "\(fresh.count) FreeSWITCH box(es) loaded from \(config.table)")
        }
    }

    // MARK: Script function

    final class ReplySlot { var status: Int32 = -2; var kind: Int32 = 0; var text = "" }

    func esl(_ call: FunctionCall) -> Int32 {
        guard let api, let command = api.pointee.command else { return -2 }
        let box: OpaquePointer
        // Both strings are the core's argument bytes, used in place (no copy per call).
        switch call.withBytes(1, { getBoxOnly($0) }) {
        case .success(let b): box = b
        case .failure(let e):
            host.log(.err, "freeswitch_esl: \(e.description)")
            return -2
        }
        defer { api.pointee.put_box?(box) }
        let slot = ReplySlot()
        let rc = call.withBytes(0) { b in
            command(box, b.baseAddress?.assumingMemoryBound(to: CChar.self), b.count, 0, { arg, r in
                guard let arg, let r else { return }
                let s = Unmanaged<ReplySlot>.fromOpaque(arg).takeUnretainedValue()
                s.status = r.pointee.status; s.kind = r.pointee.kind; s.text = r.pointee.text.string
            }, Unmanaged.passUnretained(slot).toOpaque())
        }
        withExtendedLifetime(slot) {}
        if rc == Int32(SY_FS_UNREACHABLE.rawValue) {
            host.log(.warn, "freeswitch_esl: \(label(of: box)): \(slot.text.isEmpty ? "unreachable" : slot.text)")
            return -2
        }
        if call.isPresent(2) && !call.set(2, .string(slot.text)) { host.log(.err, "freeswitch_esl: cannot write the output variable") }
        return rc == Int32(SY_FS_OK.rawValue) ? 1 : -1
    }

    // MARK: MI

    func miSubscribe(_ req: MIRequest, on: Bool) -> MIReply {
        guard let url = req.string("freeswitch_url").value, !url.isEmpty,
              let evJSON = req.json("events").value, let events = Self.parseStringArray(evJSON) else {
            return .error(code: -32602, message: "Invalid params")
        }
        // OpenSIPS's reply carries no detail (500 "Internal Error"); the reason goes to the log.
        if case .failure(let e) = on ? subscribe(url, events) : unsubscribe(url, events) {
            host.log(.err, "\(on ? "fs_subscribe" : "fs_unsubscribe"): \(e.description)")
            return .error(code: 500, message: "Internal Error")
        }
        return .ok
    }

    func miList() -> MIReply {
        let entries = pool.withLock { $0 }
        let socks = entries.map { e in
            "{\"if\": \(MIReply.quote(e.label)), \"Events\": [" + e.events.map { MIReply.quote($0.name) }.joined(separator: ", ") + "]}"
        }
        return .json("{\"Sockets\": [" + socks.joined(separator: ", ") + "]}")
    }

    func miReload() -> MIReply {
        // Without db_url OpenSIPS's handler returns nothing: JSON-RPC -32000 "Server error".
        guard db != nil else { return .error(code: -32000, message: "Server error", data: "Command handler returned null") }
        switch loadDB() {
        case .success(let rows):
            install(rows, replacing: true)
            return .ok
        case .failure(let e):
            host.log(.err, "fs_reload: \(e.description); keeping the current subscriptions")
            return .error(code: 500, message: "Internal Error")
        }
    }

    /// A JSON array of strings (what MI clients send for `events`); a single string is taken as one item.
    static func parseStringArray(_ json: String) -> [String]? {
        guard let data = json.data(using: .utf8), let v = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        if let s = v as? String { return [s] }
        guard let a = v as? [Any] else { return nil }
        var out: [String] = []
        for x in a { guard let s = x as? String else { return nil }; out.append(s) }
        return out
    }
}
