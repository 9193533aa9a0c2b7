// The OpenSIPS `mi_fifo` module as a Switchyard plugin: the Management Interface over a named pipe, the transport
// opensips-cli uses by default.
//
//   modparam("mi_fifo", "fifo_name", "/tmp/opensips_fifo")   modparam("mi_fifo", "fifo_mode", 0600)
//   modparam("mi_fifo", "fifo_user", "opensips" | 1000)      modparam("mi_fifo", "fifo_group", "opensips" | 1000)
//   modparam("mi_fifo", "reply_dir", "/tmp/")                modparam("mi_fifo", "pretty_printing", 0)
//
// A client writes `:<reply_name>:<JSON-RPC request>` into the FIFO; the answer is written, on one line, into the FIFO
// `reply_dir + reply_name` that the client created. One reader thread frames requests (FifoFramer); a small pool of
// threads runs them through the core (host mi_dispatch) and writes the replies (FifoReplyWriter), so a client that
// never opens its reply FIFO delays nobody else. See README.md next to this file.
//
// No global state: everything hangs off the MIFifoModule object reached from the C exports through the kit's boxes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardJSON
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: MIFifoModule.name) else { return nil } // another ABI major: refuse
    return MIFifoModule(host: host).build().pointer // allocated once, never freed
}

/// Modparam values (set before init, read by init).
struct FifoConfig: Sendable {
    var fifoName = "/tmp/opensips_fifo"
    var fifoMode: mode_t = 0o600
    var user: Owner? = nil
    var group: Owner? = nil
    var replyDir = "/tmp/"
    var pretty = false

    enum Owner: Sendable { case id(UInt32), name(String) }
}

/// One request for the pool.
enum FifoJob: Sendable {
    case request(replyName: String, json: [UInt8])
    case reply(replyName: String, json: [UInt8])
}

final class MIFifoModule: Sendable {
    static let name = "mi_fifo"
    static let version = "1.0.0"
    /// Largest request accepted (OpenSIPS: 4096 bytes, its read buffer).
    static let requestLimit = 64 * 1024
    /// Threads running requests and writing replies.
    static let poolSize = 4

    let host: PluginHost
    let config = Mutex(FifoConfig())
    let stopping = Atomic<Bool>(false)
    let runtime = Mutex<Runtime?>(nil)

    struct Runtime: @unchecked Sendable { // threads are joined once, in destroy
        var reader: PluginThread
        var pool: [PluginThread]
        var queue: WorkQueue<FifoJob>
    }

    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "Management Interface over a FIFO (opensips-cli's default transport)")
        m.param("fifo_name", .str) { [self] v in
            guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be a non-empty path") }
            config.withLock { $0.fifoName = s }
        }
        m.param("fifo_mode", .int) { [self] v in
            guard let i = v.intValue, (0...0o7777).contains(i) else { throw PluginError("must be a file mode such as 0660") }
            config.withLock { $0.fifoMode = i == 0 ? 0o600 : mode_t(i) }
        }
        // fifo_user / fifo_group: a number (uid/gid) or a name, exported twice with the two types.
        for (param, isUser) in [("fifo_user", true), ("fifo_group", false)] {
            m.param(param, .int) { [self] v in
                guard let i = v.intValue, i >= 0, i <= Int64(UInt32.max) else { throw PluginError("must be a non-negative id") }
                config.withLock { if isUser { $0.user = .id(UInt32(i)) } else { $0.group = .id(UInt32(i)) } }
            }
            m.param(param, .str) { [self] v in
                guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be a non-empty name or an id") }
                let owner: FifoConfig.Owner = UInt32(s).map { .id($0) } ?? .name(s)
                config.withLock { if isUser { $0.user = owner } else { $0.group = owner } }
            }
        }
        m.param("reply_dir", .str) { [self] v in
            guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be a non-empty directory") }
            config.withLock { $0.replyDir = s }
        }
        m.param("pretty_printing", .int) { [self] v in
            config.withLock { $0.pretty = (v.intValue ?? 0) != 0 }
        }
        m.onInit { [self] in try start() }
        m.onDestroy { [self] in stop() }
        return m.build()
    }

    // MARK: Lifecycle

    func start() throws {
        guard host.providesMIDispatch else { throw PluginError("the core is too old for MI transports (needs ABI 1.3)") }
        let cfg = config.withLock { $0 }
        var st = stat()
        guard stat(cfg.replyDir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw PluginError("reply_dir '\(cfg.replyDir)' is not an existing directory")
        }
        let uid = try resolve(cfg.user, user: true)
        let gid = try resolve(cfg.group, user: false)
        let fifo = ServerFifo(path: cfg.fifoName, mode: cfg.fifoMode, uid: uid, gid: gid)
        try fifo.open()

        let queue = WorkQueue<FifoJob>(limit: 4096)
        let writer = FifoReplyWriter(host: host, replyDir: cfg.replyDir)
        var pool: [PluginThread] = []
        for i in 0..<Self.poolSize {
            guard let t = PluginThread.start(name: "mi_fifo_w\(i)", { [self] in
                serve(queue: queue, writer: writer, pretty: cfg.pretty)
            }) else {
                queue.close(); pool.forEach { $0.join() }; fifo.close()
                throw PluginError("cannot start a worker thread")
            }
            pool.append(t)
        }
        guard let reader = PluginThread.start(name: "mi_fifo", { [self] in read(fifo: fifo, queue: queue) }) else {
            queue.close(); pool.forEach { $0.join() }; fifo.close()
            throw PluginError("cannot start the reader thread")
        }
        runtime.withLock { $0 = Runtime(reader: reader, pool: pool, queue: queue) }
        host.log(.info, "listening on FIFO \(cfg.fifoName), replies in \(cfg.replyDir)")
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        guard let rt = runtime.withLock({ r -> Runtime? in defer { r = nil }; return r }) else { return }
        rt.reader.join()     // notices `stopping` within one poll interval, closes and removes the FIFO
        rt.queue.close()
        rt.pool.forEach { $0.join() }
    }

    private func resolve(_ owner: FifoConfig.Owner?, user: Bool) throws -> UInt32? {
        switch owner {
        case nil: return nil
        case .id(let i): return i
        case .name(let n):
            if user {
                guard let pw = getpwnam(n) else { throw PluginError("unknown fifo_user '\(n)'") }
                return pw.pointee.pw_uid
            }
            guard let gr = getgrnam(n) else { throw PluginError("unknown fifo_group '\(n)'") }
            return gr.pointee.gr_gid
        }
    }

    // MARK: Reader thread

    /// Poll interval: how fast destroy is noticed and the FIFO's presence re-checked.
    static let pollMs: Int32 = 200
    /// A partial request with no new byte for this long is handed over as it is (answered with a parse error).
    static let partialTimeoutNs: UInt64 = 500_000_000

    func read(fifo: ServerFifo, queue: WorkQueue<FifoJob>) {
        var framer = FifoFramer(limit: Self.requestLimit)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var lastData = monotonicNs()
        var lastCheck = lastData
        var reopenError = ""
        defer { fifo.shutdown() }
        while !stopping.load(ordering: .acquiring) {
            var pfd = pollfd(fd: fifo.readFD, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, Self.pollMs)
            let now = monotonicNs()
            if r > 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fifo.readFD, $0.baseAddress, $0.count) }
                if n > 0 {
                    lastData = now
                    buffer.withUnsafeBytes { framer.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    drain(&framer, queue: queue, idle: false)
                }
            } else if r == 0 {
                framer.idleTick()
                if framer.hasPartial, now - lastData >= Self.partialTimeoutNs {
                    host.log(.err, "incomplete request in \(fifo.path): no byte for \(Self.partialTimeoutNs / 1_000_000) ms, answered with a parse error")
                    drain(&framer, queue: queue, idle: true)
                    framer.reset()
                }
            }
            // Re-create the FIFO if it was removed or replaced (checked at most once a second, and after errors).
            if r < 0 && errno != EINTR || now - lastCheck >= 1_000_000_000 {
                lastCheck = now
                if !fifo.isIntact() {
                    // Each new reason is logged once (a FIFO taken by another instance is not fought over every second).
                    if reopenError.isEmpty { host.log(.warn, "FIFO \(fifo.path) vanished or was replaced: re-creating it") }
                    framer.reset()
                    do {
                        try fifo.reopen()
                        reopenError = ""
                    } catch {
                        let text = "\(error)"
                        if text != reopenError { host.log(.err, "cannot re-create FIFO \(fifo.path): \(text)") }
                        reopenError = text
                        usleep(500_000)
                    }
                }
            }
        }
    }

    private func drain(_ framer: inout FifoFramer, queue: WorkQueue<FifoJob>, idle: Bool) {
        while let frame = framer.next(idle: idle) {
            switch frame {
            case .request(let name, let json):
                if !queue.put(.request(replyName: name, json: json)) {
                    host.log(.err, "request queue full: request dropped")
                }
            case .tooLarge(let name):
                host.log(.err, "request larger than \(Self.requestLimit) bytes refused")
                let reply = #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"Request larger than \#(Self.requestLimit) bytes"},"id":null}"#
                if !name.isEmpty { queue.put(.reply(replyName: name, json: Array(reply.utf8))) }
            case .badReplyName(let name):
                host.log(.err, "invalid reply FIFO name '\(name)' (no '/', '\\\\' or '.' allowed): request dropped")
            case .garbage(let why):
                host.log(.err, "malformed FIFO input dropped: \(why)")
            case .interrupted(let name, let bytes):
                host.log(.err, "request for reply FIFO '\(name)' interrupted after \(bytes) bytes by another writer's request: answered with an error")
                let reply = #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"Incomplete request (interrupted by another writer)"},"id":null}"#
                if !name.isEmpty { queue.put(.reply(replyName: name, json: Array(reply.utf8))) }
            }
        }
    }

    // MARK: Worker threads

    /// The reply as sent: re-indented with `pretty_printing`.
    static func styled(_ reply: [UInt8], pretty: Bool) -> [UInt8] {
        guard pretty, reply.first == UInt8(ascii: "{"), let v = try? JSONParser().parse(reply) else { return reply }
        return Array(JSONSerializer.serialize(v, style: .pretty).utf8)
    }

    func serve(queue: WorkQueue<FifoJob>, writer: FifoReplyWriter, pretty: Bool) {
        FifoReplyWriter.blockSIGPIPE()
        while let job = queue.take() {
            switch job {
            case .request(let name, let json):
                // An answer given at once is written here, on the spot (it never waits in the queue). A command that
                // answers later (t_uac_dlg waiting for its final reply) holds no thread of the pool: its answer comes
                // back through the queue, or, when the queue is full or closed, is written by the answering thread.
                let call = FifoCall()
                let host = host
                let outcome = host.miDispatchAsync(json) { reply in
                    if name.isEmpty { return } // the client wants no answer
                    guard !call.keepIfImmediate(reply) else { return }
                    if !queue.put(.reply(replyName: name, json: reply)) {
                        host.log(.warn, "request queue full or closed: answer for '\(name)' written by the answering thread")
                        writer.write(Self.styled(reply, pretty: pretty), to: name)
                    }
                }
                if let reply = call.returned() { writer.write(Self.styled(reply, pretty: pretty), to: name) }
                guard case .unsupported = outcome else { continue }
                guard let reply = host.miDispatch(json) else { continue } // a notification: no answer
                if name.isEmpty { continue } // the client wants no answer
                writer.write(Self.styled(reply, pretty: pretty), to: name)
            case .reply(let name, let json):
                writer.write(Self.styled(json, pretty: pretty), to: name)
            }
        }
    }
}

/// One request being dispatched: tells an answer given before the dispatch returned (kept, written by the pool thread
/// right after) from one given later (from another thread).
final class FifoCall: Sendable {
    private let state = Mutex<(dispatching: Bool, reply: [UInt8]?)>((true, nil))

    /// Keeps the answer if the dispatch has not returned yet; false for a later answer.
    func keepIfImmediate(_ reply: [UInt8]) -> Bool {
        state.withLock { s in
            guard s.dispatching else { return false }
            s.reply = reply
            return true
        }
    }

    /// The dispatch returned: the answer given meanwhile, if any.
    func returned() -> [UInt8]? {
        state.withLock { s in
            s.dispatching = false
            return s.reply
        }
    }
}

func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
