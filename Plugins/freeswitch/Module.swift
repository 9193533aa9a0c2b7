// The OpenSIPS `freeswitch` module as a Switchyard plugin: the FreeSWITCH Event Socket (ESL) connection manager.
//
// It has no script functions: it publishes the C API "freeswitch" v1 (switchyard_freeswitch.h) that other modules
// (freeswitch_scripting; later dispatcher/load_balancer) bind. One connection per box (host, port), shared and
// reference-counted; each box has its own I/O thread (non-blocking connect, auth, subscriptions re-sent after every
// reconnect, pipelined commands, heartbeat watchdog, backoff) that also runs the event callbacks (a blocked callback
// does not hold command replies back: see Reader.swift). See README.md next to this file.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardESL
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: FSManager.name) else { return nil } // another ABI major: refuse
    let manager = FSManager(host: host)
    theManager.publish(manager)
    return manager.build().pointer // allocated once, never freed
}

/// The manager of the latest start-up, for the 1.0/1.1 entries of the C API table that have no handle (get_box,
/// stats_interval_ms; see HandlelessEntry). The 1.2 entries reach their manager through the table's `module` handle,
/// every other entry through its box, and the module's own hooks through their `user`: nothing else reads it.
let theManager = HandlelessEntry<FSManager>()

struct FSConfig: Sendable {
    var heartbeatIntervalS: Int64 = 1 // accepted for OpenSIPS compatibility (stats_update_interval hint only)
    var connectTimeoutMs: Int64 = 5000
    var cmdTimeoutMs: Int64 = 5000
    var pollingItvUs: Int64 = 1000    // accepted, unused: replies are delivered as they arrive
    var idleReapMs: Int64 = 3_600_000 // a box used only for commands is closed after this long unused
    /// Test hook: the environment variable SWITCHYARD_TEST_FS_EPOLL_REFUSED makes every box behave as if epoll
    /// refused its socket (ReplyPark.swift), so the plain poll() fallback can be tested on any kernel.
    var epollRefused = getenv("SWITCHYARD_TEST_FS_EPOLL_REFUSED") != nil
    /// Bytes read from a box's socket at most per recv (test hook SWITCHYARD_TEST_FS_READ_BUFFER: a small one makes
    /// a reply and the events behind it take several reads even on loopback).
    var readBufferBytes = getenv("SWITCHYARD_TEST_FS_READ_BUFFER").flatMap { Int(String(cString: $0)) }.map { max(1024, $0) } ?? 65536
}

final class FSManager: @unchecked Sendable { // `config` frozen at init; registry behind its Mutex
    static let name = "freeswitch"
    static let version = "1.0.0"

    let host: PluginHost
    private let pendingConfig = Mutex(FSConfig())
    /// Frozen copy read by the boxes (set in init, before any box exists).
    private(set) var config = FSConfig()
    private let registry = Mutex(Registry())
    private let threads = Mutex<[PluginThread]>([])
    private let stopping = Atomic<Bool>(false)
    /// Per-box figures as statistics (Metrics.swift).
    private let metrics: BoxMetrics
    /// This manager's API table: its `module` handle is this manager.
    private(set) var table: UnsafeMutablePointer<sy_freeswitch_api>? = nil

    init(host: PluginHost) {
        self.host = host
        metrics = BoxMetrics(host: host)
        table = FSManager.makeTable(for: self)
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "FreeSWITCH Event Socket connection manager (API \"freeswitch\")")
        func positive(_ name: String, _ apply: @escaping @Sendable (inout FSConfig, Int64) -> Void) {
            m.param(name, .int) { [self] v in
                guard let i = v.intValue, i >= 0 else { throw PluginError("must be a non-negative integer") }
                pendingConfig.withLock { apply(&$0, i) }
            }
        }
        positive("event_heartbeat_interval") { c, v in c.heartbeatIntervalS = max(1, v) }
        positive("esl_connect_timeout") { c, v in c.connectTimeoutMs = max(1, v) }
        positive("esl_cmd_timeout") { c, v in c.cmdTimeoutMs = max(1, v) }
        positive("esl_cmd_polling_itv") { c, v in c.pollingItvUs = v }
        m.onInit { [self] in
            config = pendingConfig.withLock { $0 }
            guard let table, host.apiPublish(SY_FS_API_NAME, UnsafeRawPointer(table)) else {
                throw PluginError("cannot publish the \"freeswitch\" API (name taken)")
            }
            metrics.start { [self] in allBoxes() }
        }
        m.onDestroy { [self] in shutdown() }
        return m.build()
    }

    // MARK: Boxes

    enum GetError: Error { case message(String) }

    /// The open boxes, and the URLs already parsed: freeswitch_esl names its box by URL text on every call (usually
    /// the event's sender), and parsing it each time cost more than the lookup.
    struct Registry {
        var boxes: [BoxKey: Box] = [:]
        private var urls: [String: FSURL] = [:]

        mutating func url(_ text: String) throws(GetError) -> FSURL {
            if let u = urls[text] { return u }
            let url: FSURL
            do { url = try FSURL.parse(text) } catch { throw .message("bad ESL URL: \(error.description)") }
            if urls.count >= 64 { urls.removeAll(keepingCapacity: true) } // URLs built per call must not grow it
            urls[text] = url
            return url
        }

        /// The open box of `host` with the lowest port.
        func anyBox(of host: String) -> Box? {
            var best: Box? = nil
            for b in boxes.values where b.key.host == host && (best == nil || b.key.port < best!.key.port) { best = b }
            return best
        }
    }

    /// Finds or creates the box of `urlText`, ref++.
    func getBox(_ urlText: String) throws(GetError) -> Box {
        let (box, created) = try registry.withLock { reg throws(GetError) -> (Box, Bool) in
            let url = try reg.url(urlText)
            var found = reg.boxes[BoxKey(host: url.host, port: url.port)]
            if found == nil && url.explicitPort == 0 && url.password == nil {
                // A bare host (e.g. an event's sender): any open box of that host.
                found = reg.anyBox(of: url.host)
            }
            if let b = found {
                b.refs.add(1, ordering: .relaxed)
                b.lastUse.store(nowMs(), ordering: .relaxed)
                if let pw = url.password, !pw.isEmpty {
                    b.state.withLock { s in s.password = pw; s.user = url.user } // used at the next (re)connect
                }
                return (b, false)
            }
            guard !stopping.load(ordering: .acquiring) else { throw .message("shutting down") }
            guard let pw = url.password, !pw.isEmpty else {
                throw .message("no connection to \(url) and no password in the URL to open one")
            }
            let b = Box(key: BoxKey(host: url.host, port: url.port), user: url.user, password: pw, manager: self)
            b.refs.store(1, ordering: .relaxed)
            reg.boxes[b.key] = b
            return (b, true)
        }
        if created {
            host.log(.info, "\(box.label): new FreeSWITCH box, connecting")
            if let t = PluginThread.start(name: "fs \(box.label)", { box.run() }) {
                threads.withLock { $0.append(t) }
            } else {
                host.log(.err, "\(box.label): cannot start its I/O thread")
            }
        }
        return box
    }

    func getBoxResult(_ urlText: String) -> Result<Box, GetError> {
        do { return .success(try getBox(urlText)) } catch { return .failure(error) }
    }

    func putBox(_ box: Box) {
        box.lastUse.store(nowMs(), ordering: .relaxed)
        // Never below 0 (a put without a get must not hide a later user from the reaper).
        var n = box.refs.load(ordering: .relaxed)
        while n > 0 {
            // Releasing: a reaper that sees the 0 also sees the lastUse stored above.
            let (done, cur) = box.refs.compareExchange(expected: n, desired: n - 1, ordering: .releasing)
            if done { break }
            n = cur
        }
        if n == 1 { box.wake() }
    }

    /// Called by a box's own thread: removes it from the registry when nobody needs it any more.
    func maybeReap(_ box: Box) -> Bool {
        let idle = config.idleReapMs
        let (reaped, removed) = registry.withLock { reg -> (Bool, Bool) in
            // refs only grows under the registry lock (getBox), so 0 here stays 0 until we return.
            guard box.refs.load(ordering: .acquiring) == 0 else { return (false, false) }
            if box.commandsRun.load(ordering: .relaxed) && nowMs() - box.lastUse.load(ordering: .relaxed) < idle { return (false, false) }
            let gone = box.state.withLock { s -> Bool in
                guard s.subs.isEmpty else { return false }
                s.stop = true
                return true
            }
            guard gone, reg.boxes[box.key] === box else { return (gone, false) }
            reg.boxes[box.key] = nil
            return (true, true)
        }
        // Said once: a stopping box is asked again at every housekeeping pass while its last replies are awaited.
        if removed { host.log(.info, "\(box.label): no longer used, closing") }
        return reaped
    }

    func allBoxes() -> [Box] { registry.withLock { Array($0.boxes.values) } }

    func shutdown() {
        metrics.stop()
        stopping.store(true, ordering: .releasing)
        for b in allBoxes() {
            b.state.withLock { $0.stop = true }
            b.wake()
        }
        let ts = threads.withLock { t -> [PluginThread] in defer { t = [] }; return t }
        for t in ts { t.join() }
    }

    // MARK: Commands

    /// Runs a command and blocks for its outcome.
    func commandSync(_ box: Box, _ text: String, timeoutMs: Int64) -> FSResult {
        guard let bytes = encodeCommand(text) else {
            return FSResult(status: Int32(SY_FS_ERR.rawValue), kind: 0, text: "-ERR empty or malformed command", jobUUID: "")
        }
        let waiter = Waiter()
        let p = Pending(bytes: bytes, deadline: 0, timeoutMs: timeoutMs, blocking: true) { r in waiter.set(r) }
        let connecting = box.state.withLock { $0.phase == .connecting }
        guard box.submit(p) else { return waiter.wait(untilMs: nil)! }
        let total = timeoutMs + (connecting ? config.connectTimeoutMs : 0) + 100
        if let r = box.awaitReply(waiter, p, untilMs: nowMs() + total) { return r }
        p.finish(.unreachable("no reply from \(box.label) within esl_cmd_timeout"))
        return waiter.wait(untilMs: nil)!
    }

    // MARK: The C table

    /// The table of one manager (never freed: consumers keep the pointer; the manager lives as long as the process).
    static func makeTable(for manager: FSManager) -> UnsafeMutablePointer<sy_freeswitch_api> {
        // Raw memory of the compile-time size, zeroed (not allocate/initialize: a shorter sy_freeswitch_api of an
        // older plugin in the process would make those generic calls short, see CTable).
        let t = CTable.zeroed(size: MemoryLayout<sy_freeswitch_api>.stride, alignment: MemoryLayout<sy_freeswitch_api>.alignment)
            .assumingMemoryBound(to: sy_freeswitch_api.self)
        t.pointee.header = sy_table_header(abi_major: UInt32(SY_FS_MAJOR), abi_minor: UInt32(SY_FS_MINOR),
                                           struct_size: UInt32(MemoryLayout<sy_freeswitch_api>.size), reserved: 0)
        t.pointee.module = OpaquePointer(Unmanaged.passUnretained(manager).toOpaque())
        t.pointee.get_box = { url, len, err, errlen in FSManager.getBox(theManager.instance, url, len, err, errlen) }
        t.pointee.module_get_box = { m, url, len, err, errlen in FSManager.getBox(FSManager.from(m), url, len, err, errlen) }
        t.pointee.module_stats_interval_ms = { m in
            guard let m = FSManager.from(m) else { return 1000 }
            return UInt32(clamping: m.config.heartbeatIntervalS * 1000)
        }
        t.pointee.put_box = { box in
            guard let b = Box.from(box) else { return }
            b.manager.putBox(b)
        }
        t.pointee.box_id = { box, hostOut, portOut in
            guard let b = Box.from(box) else { return }
            hostOut?.pointee = sy_str(s: UnsafePointer(b.cHost), len: b.cHostLen)
            portOut?.pointee = b.key.port
        }
        t.pointee.subscribe = { box, events, n, cb, user in
            guard let b = Box.from(box), let cb, let events, n > 0 else { return nil }
            let keys = (0..<Int(n)).compactMap { subscriptionKey(events[$0].string) }
            guard !keys.isEmpty else { return nil }
            let sub = b.subscribe(keys, cb: .text(cb), user: user)
            return OpaquePointer(Unmanaged.passRetained(sub).toOpaque())
        }
        t.pointee.subscribe_value = { box, events, n, cb, user in // 1.3
            guard let b = Box.from(box), let cb, let events, n > 0 else { return nil }
            let keys = (0..<Int(n)).compactMap { subscriptionKey(events[$0].string) }
            guard !keys.isEmpty else { return nil }
            let sub = b.subscribe(keys, cb: .value(cb), user: user)
            return OpaquePointer(Unmanaged.passRetained(sub).toOpaque())
        }
        t.pointee.box_backlog = { box in // 1.4
            guard let b = Box.from(box) else { return 0 }
            return b.reader.backlog ? 1 : 0
        }
        t.pointee.box_burst = { box in // 1.5
            guard let b = Box.from(box) else { return 0 }
            return b.reader.burst.load(ordering: .relaxed) ? 1 : 0
        }
        // Test hooks: SWITCHYARD_TEST_FS_API_1_4 publishes the table as API 1.4 (no box_burst), SWITCHYARD_TEST_FS_API_1_3
        // as 1.3 (no box_backlog either), as an older freeswitch module would, so a consumer's fallbacks can be tested.
        if getenv("SWITCHYARD_TEST_FS_API_1_4") != nil {
            t.pointee.box_burst = nil
            t.pointee.header.abi_minor = 4
            t.pointee.header.struct_size = UInt32(MemoryLayout<sy_freeswitch_api>.offset(of: \.box_burst)!)
        }
        if getenv("SWITCHYARD_TEST_FS_API_1_3") != nil {
            t.pointee.box_burst = nil
            t.pointee.box_backlog = nil
            t.pointee.header.abi_minor = 3
            t.pointee.header.struct_size = UInt32(MemoryLayout<sy_freeswitch_api>.offset(of: \.box_backlog)!)
        }
        t.pointee.unsubscribe = { sub in
            guard let sub else { return }
            let s = Unmanaged<Subscription>.fromOpaque(UnsafeRawPointer(sub)).takeRetainedValue()
            s.box.unsubscribe(s)
        }
        t.pointee.command = { box, cmd, len, timeout, done, arg in
            guard let b = Box.from(box) else { return Int32(SY_FS_UNREACHABLE.rawValue) }
            let text = cmd.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
            let r = b.manager.commandSync(b, text, timeoutMs: timeout == 0 ? b.manager.config.cmdTimeoutMs : Int64(timeout))
            if let done { deliver(r, done, arg) }
            return r.status
        }
        t.pointee.command_async = { box, cmd, len, timeout, done, arg in
            guard let b = Box.from(box) else { return Int32(SY_FS_UNREACHABLE.rawValue) }
            let text = cmd.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
            let argBits = UInt(bitPattern: arg)
            guard let bytes = encodeCommand(text) else {
                let r = FSResult(status: Int32(SY_FS_ERR.rawValue), kind: 0, text: "-ERR empty or malformed command", jobUUID: "")
                if let done { deliver(r, done, arg) }
                return r.status
            }
            let p = Pending(bytes: bytes, deadline: 0,
                            timeoutMs: timeout == 0 ? b.manager.config.cmdTimeoutMs : Int64(timeout)) { r in
                if let done { deliver(r, done, UnsafeMutableRawPointer(bitPattern: argBits)) }
            }
            return b.submit(p) ? 0 : Int32(SY_FS_UNREACHABLE.rawValue)
        }
        t.pointee.stats = { box, out in
            guard let b = Box.from(box), let out else { return 0 }
            out.pointee = b.cStats()
            return out.pointee.valid
        }
        installWatchAPI(t) // 1.1: Watchers.swift
        return t
    }

    static func from(_ m: OpaquePointer?) -> FSManager? {
        m.map { Unmanaged<FSManager>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    static func getBox(_ m: FSManager?, _ url: UnsafePointer<CChar>?, _ len: Int, _ err: UnsafeMutablePointer<CChar>?,
                       _ errlen: Int) -> OpaquePointer? {
        guard let m else { return nil }
        let text = url.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
        switch m.getBoxResult(text) {
        case .success(let b): return b.pointer
        case .failure(let e):
            if case .message(let msg) = e { copyError(msg, err, errlen) }
            return nil
        }
    }
}

extension Box {
    static func from(_ p: OpaquePointer?) -> Box? {
        guard let p else { return nil }
        return Unmanaged<Box>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

private func deliver(_ r: FSResult, _ done: sy_fs_reply_fn, _ arg: UnsafeMutableRawPointer?) {
    sy_str.with(r.text) { text in
        sy_str.with(r.jobUUID) { job in
            var c = sy_fs_reply(status: r.status, kind: r.kind, text: text, job_uuid: job)
            done(arg, &c)
        }
    }
}

private func copyError(_ msg: String, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int) {
    guard let buf, cap > 0 else { return }
    let bytes = Array(msg.utf8.prefix(cap - 1))
    for (i, b) in bytes.enumerated() { buf[i] = CChar(bitPattern: b) }
    buf[bytes.count] = 0
}

/// A one-shot result slot a thread can wait on (pthread mutex + condition).
final class Waiter: @unchecked Sendable { // all state behind `mutex`
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var result: FSResult?
    private var parkedOn: (thread: pthread_t, sleep: SocketSleep)?

    init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond); pthread_mutex_destroy(mutex)
        cond.deallocate(); mutex.deallocate()
    }

    func set(_ r: FSResult) {
        pthread_mutex_lock(mutex)
        result = r
        let ring = parkedOn.flatMap { pthread_equal($0.thread, pthread_self()) != 0 ? nil : $0.sleep }
        pthread_mutex_unlock(mutex)
        // After unlocking: the woken waiter does not block on the mutex (this object lives until set returns).
        pthread_cond_broadcast(cond)
        ring?.ring() // the waiter sleeps on the socket (ReplyPark.swift), not on `cond`
    }

    /// The waiting thread sleeps on `sleep` (parked on the socket) from now on: set() rings its doorbell, unless
    /// set() runs on that thread. Returns the outcome if it is already there.
    func park(_ sleep: SocketSleep) -> FSResult? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        parkedOn = (pthread_self(), sleep)
        return result
    }

    func unpark() {
        pthread_mutex_lock(mutex)
        parkedOn = nil
        pthread_mutex_unlock(mutex)
    }

    /// The outcome if it is there (no wait).
    var current: FSResult? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return result
    }

    /// The result, waiting until `untilMs` (monotonic; nil = forever); nil on timeout.
    func wait(untilMs: Int64?) -> FSResult? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while result == nil {
            if let until = untilMs {
                if nowMs() >= until { return nil }
                var ts = timespec(tv_sec: Int(until / 1000), tv_nsec: Int((until % 1000) * 1_000_000))
                _ = pthread_cond_timedwait(cond, mutex, &ts)
            } else {
                pthread_cond_wait(cond, mutex)
            }
        }
        return result
    }
}
