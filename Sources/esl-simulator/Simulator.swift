#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwitchyardESL

/// FreeSWITCH's event names (subset that matters plus the common ones); `ALL` and `CUSTOM` are special.
let knownEvents: Set<String> = [
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE", "CHANNEL_ANSWER",
    "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD",
    "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
    "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK",
    "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT",
    "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH",
    "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
    "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE",
    "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED",
    "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
    "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA",
    "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL",
]

/// One client connection. Mutable state guarded by `lock`; writes serialised by `writeLock`.
final class Connection: @unchecked Sendable {
    let id: Int
    let fd: Int32
    let lock = Mutex()
    let writeLock = Mutex()
    var authed = false
    var format: ESLEventFormat = .plain
    var all = false
    var names: Set<String> = []
    var subclasses: Set<String> = []
    var filters: [(String, String)] = []
    var logging = false
    var closed = false
    /// While the serve thread handles the commands of one read, their replies collect here and leave in one write
    /// (and background jobs start after it, so a BACKGROUND_JOB never overtakes its bgapi reply). Serve thread only.
    var corked = false
    var corkBuffer: [UInt8] = []
    var corkedFrames = 0
    var afterUncork: [@Sendable () -> Void] = []

    init(id: Int, fd: Int32) {
        self.id = id
        self.fd = fd
    }

    var listening: Bool { all || !names.isEmpty || !subclasses.isEmpty }

    func wants(_ ev: ESLEvent) -> Bool {
        lock.with {
            guard authed, !closed else { return false }
            let name = ev.name ?? ""
            var ok = all || names.contains(name)
            if name == "CUSTOM", !all { ok = subclasses.contains(ev.subclass ?? "") }
            guard ok else { return false }
            if filters.isEmpty { return true }
            var positive = false
            for (h, v) in filters {
                var val = v
                var neg = false
                if val.hasPrefix("-") { neg = true; val.removeFirst() } else if val.hasPrefix("+") { val.removeFirst() }
                guard let have = ev[h] else { continue }
                let match = have.lowercased() == val.lowercased()
                if match && neg { return false }
                if match && !neg { positive = true }
                if !neg && !match { continue }
            }
            let anyPositive = filters.contains { !$0.1.hasPrefix("-") }
            return anyPositive ? positive : true
        }
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        writeLock.with { Sock.writeAll(fd, bytes) }
    }
}

/// A scripted call (a channel the simulator knows about).
struct Call: Sendable {
    let uuid: String
    let destination: String
    let caller: String
    var answered = false
}

final class Simulator: @unchecked Sendable {
    var options: SimulatorOptions
    let lock = Mutex()
    private(set) var port = 0
    private(set) var controlPort: Int? = nil
    private var listenFD: Int32 = -1
    private var controlFD: Int32 = -1
    private var connections: [Int: Connection] = [:]
    private var nextConnID = 1
    private var calls: [String: Call] = [:]
    private var callOrder: [String] = []
    private var commandLog: [String] = []
    private var answers: [String: String] = [:]
    private var sequence = 400
    private var generation = 0   // bumped on restart/stop so old accept/heartbeat threads exit
    private var running = false
    private let startMicros = nowMicros()
    private let backgroundJobs = BackgroundJobs()
    private var sessionsSinceStartup = 0
    // stats
    private var accepted = 0
    private var commandsReceived = 0
    private var framesSent = 0
    private var eventsSent = 0

    init(options: SimulatorOptions) {
        self.options = options
    }

    // MARK: lifecycle

    func start() throws {
        try startListening(port: options.port)
        if let cp = options.controlPort {
            let (fd, p) = try Sock.listen(host: options.host, port: cp)
            controlFD = fd
            controlPort = p
            spawnThread { [self] in controlAcceptLoop(fd) }
        }
        if options.stdinControl {
            spawnThread { [self] in stdinLoop() }
        }
    }

    private func startListening(port: Int) throws {
        let (fd, p) = try Sock.listen(host: options.host, port: port)
        let gen: Int = lock.with {
            listenFD = fd
            self.port = p
            running = true
            generation += 1
            return generation
        }
        spawnThread { [self] in acceptLoop(fd, gen) }
        spawnThread { [self] in heartbeatLoop(gen) }
    }

    /// Closes the listener and every client connection (FreeSWITCH going away).
    func stop(notice: Bool = true) {
        let (fd, conns): (Int32, [Connection]) = lock.with {
            let f = listenFD
            listenFD = -1
            running = false
            generation += 1
            let c = Array(connections.values)
            connections.removeAll()
            return (f, c)
        }
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
        for c in conns {
            if notice { c.send(ESLEncoder.disconnectNotice(ESLEncoder.shutdownText)) }
            closeConnection(c)
        }
    }

    func restart() throws {
        stop()
        try startListening(port: port)
    }

    func runForever() {
        while true { sleepSeconds(3600) }
    }

    private func closeConnection(_ c: Connection) {
        let already: Bool = c.lock.with { let a = c.closed; c.closed = true; return a }
        if already { return }
        c.writeLock.with {
            shutdown(c.fd, Int32(SHUT_RDWR))
        }
        lock.with { _ = connections.removeValue(forKey: c.id) }
    }

    private func acceptLoop(_ fd: Int32, _ gen: Int) {
        while true {
            let cfd = Sock.accept(fd)
            if cfd < 0 { return }
            let conn: Connection? = lock.with {
                guard generation == gen, running else { return nil }
                let c = Connection(id: nextConnID, fd: cfd)
                nextConnID += 1
                accepted += 1
                connections[c.id] = c
                return c
            }
            guard let conn else { close(cfd); return }
            spawnThread { [self] in serve(conn) }
        }
    }

    // MARK: ESL connection

    /// A reply on the serve thread (corked: written with the others of the same read).
    private func sendFrame(_ c: Connection, _ bytes: [UInt8]) {
        if c.corked {
            c.corkBuffer.append(contentsOf: bytes)
            c.corkedFrames += 1
            return
        }
        if c.send(bytes) { lock.with { framesSent += 1 } }
    }

    /// Runs `job` once the replies of the current read are written (at once when not corked).
    private func afterReplies(_ c: Connection, _ job: @escaping @Sendable () -> Void) {
        if c.corked { c.afterUncork.append(job) } else { job() }
    }

    private func uncork(_ c: Connection) {
        c.corked = false
        if !c.corkBuffer.isEmpty {
            let n = c.corkedFrames
            if c.send(c.corkBuffer) { lock.with { framesSent += n } }
            c.corkBuffer.removeAll(keepingCapacity: true)
            c.corkedFrames = 0
        }
        for job in c.afterUncork { job() }
        c.afterUncork.removeAll()
    }

    private func serve(_ c: Connection) {
        sendFrame(c, ESLEncoder.authRequest())
        var parser = ESLCommandParser()
        outer: while let chunk = Sock.read(c.fd) {
            let cmds: [ESLCommand]
            do { cmds = try parser.feed(chunk) } catch { break }
            // Commands that fire events at once (api: originate, uuid_kill, ...; sendevent) are not corked: their
            // events must not overtake the replies of the commands before them.
            c.corked = cmds.count > 1 && !cmds.contains { $0.verb == "api" || $0.verb == "sendevent" }
            for cmd in cmds {
                if !handle(c, cmd) { uncork(c); break outer }
            }
            uncork(c)
        }
        closeConnection(c)
        close(c.fd)
    }

    /// Returns false when the connection must close.
    private func handle(_ c: Connection, _ cmd: ESLCommand) -> Bool {
        lock.with {
            commandsReceived += 1
            commandLog.append("\(c.id) \(cmd.line)")
        }
        if options.verbose { say("esl-simulator: [\(c.id)] \(cmd.line)\n") }
        let verb = cmd.verb
        let authed = c.lock.with { c.authed }
        if verb == "exit" || verb == "..." {
            sendFrame(c, ESLEncoder.commandReply("+OK bye"))
            sendFrame(c, ESLEncoder.disconnectNotice())
            return false
        }
        if !authed {
            switch verb {
            case "auth":
                if cmd.argument == options.password {
                    c.lock.with { c.authed = true }
                    sendFrame(c, ESLEncoder.commandReply("+OK accepted"))
                    return true
                }
            case "userauth":
                let arg = cmd.argument
                if let colon = arg.firstIndex(of: ":"), arg[..<colon].contains("@"),
                   String(arg[arg.index(after: colon)...]) == options.password {
                    c.lock.with { c.authed = true }
                    sendFrame(c, ESLEncoder.commandReply("+OK accepted", extraHeaders: [
                        ESLHeader("Allowed-Events", "all"), ESLHeader("Allowed-API", "all"), ESLHeader("Allowed-LOG", "true"),
                    ]))
                    return true
                }
            default:
                sendFrame(c, ESLEncoder.commandReply("-ERR command not found"))
                return true
            }
            sendFrame(c, ESLEncoder.commandReply("-ERR invalid"))
            sendFrame(c, ESLEncoder.disconnectNotice())
            return false
        }
        switch verb {
        case "api":
            let (name, arg) = splitCommand(cmd.argument)
            if name.lowercased() == "sim_dtmf_after", let n = Int(arg.trimmingCharacters()), n > 0, !c.corked {
                // Simulator-only: the reply and n DTMF events right behind it, in one write (a busy box).
                c.send(ESLEncoder.apiResponse("+OK\n") + dtmfBurst(for: c, n))
                lock.with { framesSent += 1 + n; eventsSent += n }
                return true
            }
            sendFrame(c, ESLEncoder.apiResponse(runAPI(name, arg)))
        case "bgapi":
            let job = cmd["Job-UUID"] ?? randomUUID()
            let (name, arg) = splitCommand(cmd.argument)
            sendFrame(c, ESLEncoder.bgapiReply(jobUUID: job))
            afterReplies(c) { [self] in backgroundJobs.add { [self] in
                let out = runAPI(name, arg)
                var h = [ESLHeader("Job-UUID", job), ESLHeader("Job-Command", name)]
                if !arg.isEmpty { h.append(ESLHeader("Job-Command-Arg", arg)) }
                fire("BACKGROUND_JOB", h, body: out, file: "mod_event_socket.c", function: "api_exec", line: 1572)
            } }
        case "event":
            sendFrame(c, ESLEncoder.commandReply(subscribe(c, cmd.arguments, add: true)))
        case "nixevent":
            sendFrame(c, ESLEncoder.commandReply(subscribe(c, cmd.arguments, add: false)))
        case "noevents":
            let was: Bool = c.lock.with {
                let w = c.listening
                c.all = false; c.names = []; c.subclasses = []
                return w
            }
            sendFrame(c, ESLEncoder.commandReply(was ? "+OK no longer listening for events" : "-ERR not listening for events"))
        case "myevents":
            let args = cmd.arguments
            c.lock.with {
                c.all = true
                if let f = args.compactMap({ ESLEventFormat(rawValue: $0.lowercased()) }).first { c.format = f }
                if let u = args.first(where: { ESLEventFormat(rawValue: $0.lowercased()) == nil }) { c.filters = [("Unique-ID", u)] }
            }
            sendFrame(c, ESLEncoder.commandReply("+OK Events Enabled"))
        case "filter":
            sendFrame(c, ESLEncoder.commandReply(filter(c, cmd.arguments)))
        case "log":
            let a = cmd.arguments.first ?? "debug"
            let levels = ["console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7]
            if let n = Int(a) ?? levels[a.lowercased()], n >= 0, n <= 7 {
                c.lock.with { c.logging = true }
                sendFrame(c, ESLEncoder.commandReply("+OK log level \(a) [\(n)]"))
            } else {
                sendFrame(c, ESLEncoder.commandReply("-ERR invalid log level"))
            }
        case "nolog":
            let was: Bool = c.lock.with { let w = c.logging; c.logging = false; return w }
            sendFrame(c, ESLEncoder.commandReply(was ? "+OK no longer logging" : "-ERR not loging"))
        case "linger", "nolinger", "divert_events", "resume", "getvar", "connect":
            sendFrame(c, ESLEncoder.commandReply("-ERR not controlling a session"))
        case "sendevent":
            let (name, _) = splitCommand(cmd.argument)
            let uuid = randomUUID()
            let body = cmd.body.isEmpty ? nil : String(decoding: cmd.body, as: UTF8.self)
            fire(name.uppercased(), cmd.headers.filter { !$0.name.caseInsensitiveEqual("Content-Length") }, body: body,
                 file: "mod_event_socket.c", function: "parse_command", line: 2000)
            sendFrame(c, ESLEncoder.commandReply("+OK \(uuid)"))
        case "sendmsg":
            let u = cmd.arguments.first ?? cmd["Unique-ID"] ?? ""
            let known = lock.with { calls[u] != nil }
            sendFrame(c, ESLEncoder.commandReply(known ? "+OK" : "-ERR invalid session id [\(u)]"))
        default:
            sendFrame(c, ESLEncoder.commandReply("-ERR command not found"))
        }
        return true
    }

    private func splitCommand(_ s: String) -> (String, String) {
        let t = s.drop(while: { $0 == " " })
        let name = String(t.prefix(while: { $0 != " " }))
        let arg = String(t.drop(while: { $0 != " " }).drop(while: { $0 == " " }))
        return (name, arg)
    }

    private func subscribe(_ c: Connection, _ words: [String], add: Bool) -> String {
        var words = words[...]
        var format: ESLEventFormat? = nil
        if add, let f = words.first.flatMap({ ESLEventFormat(rawValue: $0.lowercased()) }) {
            format = f
            words = words.dropFirst()
        }
        var custom = false
        var any = false
        c.lock.with {
            if let format { c.format = format }
            for w in words {
                if custom {
                    any = true
                    if add { c.subclasses.insert(w) } else { c.subclasses.remove(w) }
                    continue
                }
                var n = w.uppercased()
                if n.hasPrefix("SWITCH_EVENT_") { n = String(n.dropFirst(13)) }
                guard knownEvents.contains(n) else { continue }
                any = true
                if n == "CUSTOM" { custom = true; continue }
                if n == "ALL" {
                    if add { c.all = true } else { c.all = false; c.names = []; c.subclasses = [] }
                    continue
                }
                if add {
                    c.names.insert(n)
                } else {
                    if c.all { c.all = false; c.names = knownEvents.subtracting(["ALL", "CUSTOM"]) }
                    c.names.remove(n)
                }
            }
        }
        if !any { return "-ERR no keywords supplied" }
        if !add { return "+OK events nixed" }
        return "+OK event listener enabled \(c.lock.with { c.format }.rawValue)"
    }

    private func filter(_ c: Connection, _ args: [String]) -> String {
        var a = args[...]
        if a.first?.lowercased() == "delete" {
            a = a.dropFirst()
            guard let h = a.first else { return "-ERR invalid syntax" }
            let v = a.dropFirst().joined(separator: " ")
            c.lock.with {
                if h.lowercased() == "all" { c.filters = [] }
                else { c.filters.removeAll { $0.0.lowercased() == h.lowercased() && (v.isEmpty || $0.1 == v) } }
            }
            return "+OK filter deleted. [\(h)][\(v)]"
        }
        if a.first?.lowercased() == "add" { a = a.dropFirst() }
        guard a.count >= 2, let h = a.first else { return "-ERR invalid syntax" }
        let v = a.dropFirst().joined(separator: " ")
        c.lock.with { c.filters.append((h, v)) }
        return "+OK filter added. [\(h)]=[\(v)]"
    }

    // MARK: API

    func runAPI(_ name: String, _ arg: String) -> String {
        if let a = lock.with({ answers[name.lowercased()] }) { return a }
        let args = arg.split(separator: " ").map(String.init)
        switch name.lowercased() {
        case "status": return statusText()
        case "version": return "FreeSWITCH Version 1.10.12-release~64bit (-release 64bit)\n"
        case "hostname": return options.hostname
        case "echo": return arg
        case "uptime": return String((nowMicros() - startMicros) / 1_000_000)
        case "uuid_exists":
            return lock.with { calls[args.first ?? ""] != nil } ? "true" : "false"
        case "uuid_transfer", "uuid_send_dtmf", "uuid_recv_dtmf", "uuid_setvar", "uuid_answer", "uuid_park", "uuid_broadcast":
            guard let u = args.first, lock.with({ calls[u] != nil }) else { return "-ERR No such channel!\n" }
            if name.lowercased() == "uuid_recv_dtmf" || name.lowercased() == "uuid_send_dtmf" {
                for d in (args.dropFirst().first ?? "") { pressDigit(u, d) }
                return name.lowercased() == "uuid_send_dtmf" ? "+OK \(u) sent DTMF \(args.dropFirst().first ?? "").\n"
                    : "+OK \(u) received DTMF \(args.dropFirst().first ?? "").\n"
            }
            return "+OK\n"
        case "uuid_kill":
            guard let u = args.first, lock.with({ calls[u] != nil }) else { return "-ERR No such channel!\n" }
            hangup(u)
            return "+OK\n"
        case "originate":
            // originate [{vars}]loopback/<dest>/... <app>
            let target = args.first ?? ""
            var t = Substring(target)
            if t.hasPrefix("{"), let e = t.firstIndex(of: "}") { t = t[t.index(after: e)...] }
            let parts = t.split(separator: "/")
            let dest = parts.count >= 2 ? String(parts[1]) : String(t)
            let u = placeCall(destination: dest, digits: "", caller: "0000000000")
            return "+OK \(u)\n"
        case "show":
            if args.first == "calls" {
                let n = lock.with { calls.count }
                return "\n\(n) total.\n"
            }
            return "-ERR \(name) Command not found!\n"
        default:
            return "-ERR \(name) Command not found!\n"
        }
    }

    func statusText() -> String {
        let up = nowMicros() - startMicros
        let (sc, since) = lock.with { (options.sessionCount ?? calls.count, sessionsSinceStartup) }
        return """
        UP \(upTime(up))
        FreeSWITCH (Version 1.10.12-release  64bit) is ready
        \(since) session(s) since startup
        \(sc) session(s) - peak \(sc), last 5min \(sc) \n\
        0 session(s) per Sec out of max \(options.sessionsPerSecond), peak 0, last 5min 0 \n\
        \(options.maxSessions) session(s) max
        min idle cpu 0.00/\(formatFixed(options.idleCPU, 2))
        Current Stack Size/Max 240K/8192K

        """
    }

    private func upTime(_ us: Int64, comma: Bool = true) -> String {
        func u(_ n: Int64, _ w: String) -> String { "\(n) \(w)\(n == 1 ? "" : "s")" }
        let secs = us / 1_000_000
        let parts = [u(0, "year"), u(secs / 86400, "day"), u((secs / 3600) % 24, "hour"), u((secs / 60) % 60, "minute"),
                     u(secs % 60, "second"), u((us / 1000) % 1000, "millisecond"), u(us % 1000, "microsecond")]
        return parts.joined(separator: ", ")
    }

    // MARK: events

    private func standardHeaders(_ name: String, file: String, function: String, line: Int) -> [ESLHeader] {
        let us = nowMicros()
        var t = time_t(us / 1_000_000)
        var tmL = tm(), tmG = tm()
        localtime_r(&t, &tmL)
        gmtime_r(&t, &tmG)
        func fmt(_ f: String, _ tmv: inout tm) -> String {
            var buf = [Int8](repeating: 0, count: 64)
            let n = strftime(&buf, 64, f, &tmv)
            return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let seq = lock.with { sequence += 1; return sequence }
        return [
            ESLHeader("Event-Name", name), ESLHeader("Core-UUID", options.coreUUID),
            ESLHeader("FreeSWITCH-Hostname", options.hostname), ESLHeader("FreeSWITCH-Switchname", options.hostname),
            ESLHeader("FreeSWITCH-IPv4", options.host), ESLHeader("FreeSWITCH-IPv6", "::1"),
            ESLHeader("Event-Date-Local", fmt("%Y-%m-%d %H:%M:%S", &tmL)),
            ESLHeader("Event-Date-GMT", fmt("%a, %d %b %Y %H:%M:%S GMT", &tmG)),
            ESLHeader("Event-Date-Timestamp", String(us)), ESLHeader("Event-Calling-File", file),
            ESLHeader("Event-Calling-Function", function), ESLHeader("Event-Calling-Line-Number", String(line)),
            ESLHeader("Event-Sequence", String(seq)),
        ]
    }

    /// Builds an event (standard headers + `headers`) and delivers it to every subscriber.
    func fire(_ name: String, _ headers: [ESLHeader], body: String? = nil, file: String = "switch_core.c",
              function: String = "switch_event_fire", line: Int = 1) {
        var h = standardHeaders(name, file: file, function: function, line: line)
        if name == "CUSTOM", let sc = headers.first(where: { $0.name.caseInsensitiveEqual("Event-Subclass") }) {
            h.insert(sc, at: 1)
        }
        h += headers.filter { !(name == "CUSTOM" && $0.name.caseInsensitiveEqual("Event-Subclass")) }
        deliver(ESLEvent(headers: h, body: body))
    }

    func deliver(_ ev: ESLEvent) {
        let conns = lock.with { Array(connections.values) }
        var cache: [ESLEventFormat: [UInt8]] = [:]
        for c in conns where c.wants(ev) {
            let f = c.lock.with { c.format }
            let bytes = cache[f] ?? ESLEncoder.event(ev, format: f)
            cache[f] = bytes
            if c.send(bytes) { lock.with { eventsSent += 1; framesSent += 1 } }
        }
    }

    func heartbeat() {
        let up = nowMicros() - startMicros
        let (sc, since) = lock.with { (options.sessionCount ?? calls.count, sessionsSinceStartup) }
        fire("HEARTBEAT", [
            ESLHeader("Event-Info", "System Ready"), ESLHeader("Up-Time", upTime(up)),
            ESLHeader("FreeSWITCH-Version", "1.10.12-release~64bit"), ESLHeader("Uptime-msec", String(up / 1000)),
            ESLHeader("Session-Count", String(sc)), ESLHeader("Max-Sessions", String(options.maxSessions)),
            ESLHeader("Session-Per-Sec", String(options.sessionsPerSecond)), ESLHeader("Session-Per-Sec-Last", "0"),
            ESLHeader("Session-Per-Sec-Max", "0"), ESLHeader("Session-Per-Sec-FiveMin", "0"),
            ESLHeader("Session-Since-Startup", String(since)), ESLHeader("Session-Peak-Max", String(sc)),
            ESLHeader("Session-Peak-FiveMin", String(sc)), ESLHeader("Idle-CPU", formatFixed(options.idleCPU, 6)),
        ], file: "switch_core.c", function: "send_heartbeat", line: 95)
    }

    private func heartbeatLoop(_ gen: Int) {
        while true {
            let interval = lock.with { options.heartbeat }
            sleepSeconds(interval > 0 ? interval : 0.2)
            guard lock.with({ generation == gen && running }) else { return }
            if interval > 0 { heartbeat() }
        }
    }

    private func channelHeaders(_ call: Call, state: String, callState: String, stateNumber: Int, answer: String) -> [ESLHeader] {
        [
            ESLHeader("Channel-State", state), ESLHeader("Channel-Call-State", callState),
            ESLHeader("Channel-State-Number", String(stateNumber)), ESLHeader("Channel-Name", "sofia/internal/\(call.caller)@\(options.host)"),
            ESLHeader("Unique-ID", call.uuid), ESLHeader("Call-Direction", "inbound"), ESLHeader("Presence-Call-Direction", "inbound"),
            ESLHeader("Channel-HIT-Dialplan", "true"), ESLHeader("Channel-Call-UUID", call.uuid), ESLHeader("Answer-State", answer),
            ESLHeader("Caller-Direction", "inbound"), ESLHeader("Caller-Logical-Direction", "inbound"),
            ESLHeader("Caller-Username", call.caller), ESLHeader("Caller-Dialplan", "XML"),
            ESLHeader("Caller-Caller-ID-Name", call.caller), ESLHeader("Caller-Caller-ID-Number", call.caller),
            ESLHeader("Caller-ANI", call.caller), ESLHeader("Caller-Destination-Number", call.destination),
            ESLHeader("Caller-Unique-ID", call.uuid), ESLHeader("Caller-Source", "mod_sofia"),
            ESLHeader("Caller-Context", "default"), ESLHeader("Caller-Channel-Name", "sofia/internal/\(call.caller)@\(options.host)"),
        ]
    }

    /// Creates a call: CHANNEL_CREATE, CHANNEL_ANSWER, then one DTMF event per digit. Returns its UUID.
    @discardableResult
    func placeCall(destination: String, digits: String, caller: String = "1000", uuid: String? = nil) -> String {
        let call = Call(uuid: uuid ?? randomUUID(), destination: destination, caller: caller, answered: true)
        lock.with {
            calls[call.uuid] = call
            callOrder.append(call.uuid)
            sessionsSinceStartup += 1
        }
        fire("CHANNEL_CREATE", channelHeaders(call, state: "CS_INIT", callState: "DOWN", stateNumber: 2, answer: "ringing"),
             file: "switch_core_state_machine.c", function: "switch_core_session_run", line: 626)
        fire("CHANNEL_ANSWER", channelHeaders(call, state: "CS_EXECUTE", callState: "ACTIVE", stateNumber: 4, answer: "answered"),
             file: "switch_channel.c", function: "switch_channel_perform_mark_answered", line: 3996)
        for d in digits { pressDigit(call.uuid, d) }
        return call.uuid
    }

    func pressDigit(_ uuid: String, _ digit: Character) {
        guard let call = lock.with({ calls[uuid] }) else { return }
        fire("DTMF", channelHeaders(call, state: "CS_EXECUTE", callState: "ACTIVE", stateNumber: 4, answer: "answered") + [
            ESLHeader("DTMF-Digit", String(digit)), ESLHeader("DTMF-Duration", "2000"), ESLHeader("DTMF-Source", "RTP"),
        ], file: "switch_channel.c", function: "switch_channel_dequeue_dtmf", line: 677)
    }

    func hangup(_ uuid: String, cause: String = "NORMAL_CLEARING") {
        guard let call = lock.with({ () -> Call? in
            callOrder.removeAll { $0 == uuid }
            return calls.removeValue(forKey: uuid)
        }) else { return }
        fire("CHANNEL_HANGUP_COMPLETE", channelHeaders(call, state: "CS_REPORTING", callState: "HANGUP", stateNumber: 11, answer: "hangup")
             + [ESLHeader("Hangup-Cause", cause)], file: "switch_core_state_machine.c", function: "switch_core_session_reporting_state", line: 938)
    }

    /// n DTMF events for n distinct (ephemeral) calls, as fast as possible, or `rate` per second (event i leaves at
    /// i / rate s after the first: a late event does not shift the ones after it).
    func flood(_ n: Int, digit: Character = "5", rate: Int = 0) {
        let t0 = nowMicros()
        for i in 0..<n {
            if rate > 0 {
                let slot = t0 + Int64(i) * 1_000_000 / Int64(rate)
                let wait = slot - nowMicros()
                if wait > 0 { usleep(UInt32(wait)) }
            }
            let call = Call(uuid: randomUUID(), destination: "flood\(i)", caller: "1000", answered: true)
            fire("DTMF", channelHeaders(call, state: "CS_EXECUTE", callState: "ACTIVE", stateNumber: 4, answer: "answered") + [
                ESLHeader("DTMF-Digit", String(digit)), ESLHeader("DTMF-Duration", "2000"), ESLHeader("DTMF-Source", "RTP"),
            ], file: "switch_channel.c", function: "switch_channel_dequeue_dtmf", line: 677)
        }
    }

    /// The bytes of n DTMF events (digits 0-9 in turn, one ephemeral call each) in c's event format, for
    /// `api sim_dtmf_after`; empty when c does not listen to DTMF.
    private func dtmfBurst(for c: Connection, _ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        let f = c.lock.with { c.format }
        for i in 0..<n {
            let call = Call(uuid: randomUUID(), destination: "burst\(i)", caller: "1000", answered: true)
            let h = standardHeaders("DTMF", file: "switch_channel.c", function: "switch_channel_dequeue_dtmf", line: 677)
                + channelHeaders(call, state: "CS_EXECUTE", callState: "ACTIVE", stateNumber: 4, answer: "answered") + [
                    ESLHeader("DTMF-Digit", String(i % 10)), ESLHeader("DTMF-Duration", "2000"), ESLHeader("DTMF-Source", "RTP"),
                ]
            let ev = ESLEvent(headers: h, body: nil)
            guard c.wants(ev) else { return [] }
            out += ESLEncoder.event(ev, format: f)
        }
        return out
    }

    // MARK: control channel

    private func controlAcceptLoop(_ fd: Int32) {
        while true {
            let c = Sock.accept(fd)
            if c < 0 { return }
            spawnThread { [self] in
                var buf: [UInt8] = []
                while let chunk = Sock.read(c) {
                    buf += chunk
                    while let nl = buf.firstIndex(of: 0x0A) {
                        let line = String(decoding: buf[0..<nl], as: UTF8.self)
                        buf.removeSubrange(0...nl)
                        let (reply, quit) = control(line)
                        _ = Sock.writeAll(c, Array(reply.utf8))
                        if quit { close(c); exit(0) }
                    }
                }
                close(c)
            }
        }
    }

    private func stdinLoop() {
        while let line = readLine() {
            let (reply, quit) = control(line)
            say(reply)
            if quit { exit(0) }
        }
    }

    /// Runs one control command; returns the reply text (each reply ends with a line that starts with
    /// `+OK` or `-ERR`; `commands` prints `+OK <n>` then n lines) and whether to quit.
    func control(_ raw: String) -> (String, Bool) {
        let line = raw.trimmingCharacters()
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let verb = words.first?.lowercased() else { return ("", false) }
        let args = Array(words.dropFirst())
        switch verb {
        case "call":
            guard let dest = args.first else { return ("-ERR usage: call <dest> [digits] [caller]\n", false) }
            let digits = args.count > 1 && args[1] != "-" ? args[1] : ""
            let u = placeCall(destination: dest, digits: digits, caller: args.count > 2 ? args[2] : "1000")
            return ("+OK \(u)\n", false)
        case "dtmf":
            guard args.count == 2 else { return ("-ERR usage: dtmf <uuid> <digits>\n", false) }
            guard lock.with({ calls[args[0]] != nil }) else { return ("-ERR No such channel!\n", false) }
            for d in args[1] { pressDigit(args[0], d) }
            return ("+OK\n", false)
        case "hangup":
            guard let u = args.first, lock.with({ calls[u] != nil }) else { return ("-ERR No such channel!\n", false) }
            hangup(u)
            return ("+OK\n", false)
        case "calls":
            let list = lock.with { callOrder.map { "\($0) \(calls[$0]?.destination ?? "")" } }
            return ("+OK \(list.count)\n" + list.map { $0 + "\n" }.joined(), false)
        case "flood":
            guard let n = args.first.flatMap({ Int($0) }), n >= 0 else { return ("-ERR usage: flood <n> [rate]\n", false) }
            let rate = args.count > 1 ? Int(args[1]) ?? -1 : 0
            guard rate >= 0 else { return ("-ERR usage: flood <n> [rate]\n", false) }
            let t0 = nowMicros()
            flood(n, rate: rate)
            return ("+OK \(n) events in \(nowMicros() - t0) us\n", false)
        case "heartbeat":
            heartbeat()
            return ("+OK\n", false)
        case "event":
            // event <NAME> [Header=value ...]   (CUSTOM needs Event-Subclass=...)
            guard let name = args.first else { return ("-ERR usage: event <NAME> [Header=value ...]\n", false) }
            var h: [ESLHeader] = []
            var body: String? = nil
            for kv in args.dropFirst() {
                guard let eq = kv.firstIndex(of: "=") else { continue }
                let k = String(kv[..<eq]), v = unescape(String(kv[kv.index(after: eq)...]))
                if k == "_body" { body = v } else { h.append(ESLHeader(k, v)) }
            }
            fire(name.uppercased(), h, body: body)
            return ("+OK\n", false)
        case "answer":
            // answer <api-command> <text...>  (\n escapes allowed); `answer <cmd>` removes it
            guard let cmd = args.first?.lowercased() else { return ("-ERR usage: answer <cmd> [text]\n", false) }
            let text = args.count > 1 ? unescape(args.dropFirst().joined(separator: " ")) : nil
            lock.with { answers[cmd] = text }
            return ("+OK\n", false)
        case "set":
            guard args.count == 2 else { return ("-ERR usage: set <key> <value>\n", false) }
            let ok: Bool = lock.with {
                switch args[0].lowercased() {
                case "idle-cpu": if let v = Double(args[1]) { options.idleCPU = v; return true }
                case "session-count": if args[1] == "auto" { options.sessionCount = nil; return true }
                    if let v = Int(args[1]) { options.sessionCount = v; return true }
                case "max-sessions": if let v = Int(args[1]) { options.maxSessions = v; return true }
                case "heartbeat": if let v = Double(args[1]) { options.heartbeat = v; return true }
                case "password": options.password = args[1]; return true
                default: break
                }
                return false
            }
            return (ok ? "+OK\n" : "-ERR bad setting\n", false)
        case "commands":
            let log = lock.with { commandLog }
            return ("+OK \(log.count)\n" + log.map { $0 + "\n" }.joined(), false)
        case "clear":
            lock.with { commandLog = [] }
            return ("+OK\n", false)
        case "stats":
            let s = lock.with {
                "+OK port=\(port) running=\(running) connections=\(connections.count) accepted=\(accepted) authed=\(connections.values.filter { c in c.lock.with { c.authed } }.count) "
                    + "commands=\(commandsReceived) frames_sent=\(framesSent) events_sent=\(eventsSent) calls=\(calls.count)\n"
            }
            return (s, false)
        case "drop":
            let conns = lock.with { Array(connections.values) }
            for c in conns { closeConnection(c) }
            return ("+OK \(conns.count)\n", false)
        case "stop":
            stop()
            return ("+OK\n", false)
        case "start":
            if lock.with({ running }) { return ("-ERR already running\n", false) }
            do { try startListening(port: port) } catch { return ("-ERR \(error)\n", false) }
            return ("+OK \(port)\n", false)
        case "restart":
            do { try restart() } catch { return ("-ERR \(error)\n", false) }
            return ("+OK \(port)\n", false)
        case "quit", "exit":
            stop()
            return ("+OK bye\n", true)
        case "help":
            return ("+OK call <dest> [digits] [caller] | dtmf <uuid> <digits> | hangup <uuid> | calls | flood <n> [rate] | heartbeat | event <NAME> [H=v...] | answer <cmd> [text] | set idle-cpu|session-count|max-sessions|heartbeat|password <v> | commands | clear | stats | drop | stop | start | restart | quit\n", false)
        default:
            return ("-ERR unknown control command \(verb)\n", false)
        }
    }

    private func unescape(_ s: String) -> String {
        var o = ""
        var it = s.makeIterator()
        while let c = it.next() {
            if c == "\\", let n = it.next() {
                switch n {
                case "n": o.append("\n")
                case "t": o.append("\t")
                case "s": o.append(" ")
                default: o.append(n)
                }
            } else { o.append(c) }
        }
        return o
    }
}

func formatFixed(_ v: Double, _ digits: Int) -> String {
    var buf = [Int8](repeating: 0, count: 64)
    _ = withVaList([v]) { vsnprintf(&buf, 64, "%.\(digits)f", $0) }
    return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension String {
    func caseInsensitiveEqual(_ o: String) -> Bool { lowercased() == o.lowercased() }
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
