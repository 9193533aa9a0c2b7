// RedisPool: the connections of one cachedb_url. Each worker thread that runs a command takes a connection of its
// own from the pool (so there are at most as many as threads running commands at once: a connection per worker).
//
// Reconnection and failover, as OpenSIPS does it: a command that gets no reply (I/O error, timeout: the server
// restarted or went away) drops that connection, connects again and is sent once more (two attempts); a connect that
// fails moves to the next host of a comma-separated list, and the pool remembers the host that worked. A server that
// is down fails the commands of the outage only (each waiting at most connect_timeout/query_timeout).
// The other idle connections are dropped with the failed one only when the server is gone (closed or reset): after a
// query_timeout they are healthy and stay.
#if canImport(Glibc)
import Glibc
#endif
import CHiredis
import SwitchyardPluginKit
import Synchronization

/// One hiredis connection, used by one thread at a time (the pool hands it out exclusively).
final class RedisLink: @unchecked Sendable {
    let ctx: UnsafeMutablePointer<redisContext>
    init(_ ctx: UnsafeMutablePointer<redisContext>) { self.ctx = ctx }
    deinit { redisFree(ctx) }
}

/// A reply copied out of hiredis (the reply object is freed at once).
enum RedisReply: Equatable {
    case string([UInt8])
    case integer(Int64)
    case array([RedisReply])
    case nil_
    case status(String)
    case error(String)
}

struct RedisTimeouts: Sendable {
    var connectMs: Int
    var queryMs: Int
}

final class RedisPool: Sendable {
    let url: RedisURL
    let timeouts: RedisTimeouts
    let log: @Sendable (LogLevel, String) -> Void
    private let idle = Mutex<[RedisLink]>([])
    /// The endpoint that worked last (failover list index).
    private let current = Atomic<Int>(0)

    init(url: RedisURL, timeouts: RedisTimeouts, log: @escaping @Sendable (LogLevel, String) -> Void) {
        self.url = url
        self.timeouts = timeouts
        self.log = log
    }

    deinit { idle.withLock { $0 = [] } }

    private static func timeval(ms: Int) -> timeval {
        Glibc.timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
    }

    /// Connects to the current endpoint, then the next ones in turn; AUTH and SELECT as configured.
    func connect() -> Result<RedisLink, PluginErrorText> {
        var reasons: [String] = []
        let start = current.load(ordering: .relaxed)
        for k in 0..<url.endpoints.count {
            let i = (start + k) % url.endpoints.count
            let ep = url.endpoints[i]
            let ctx: UnsafeMutablePointer<redisContext>?
            if timeouts.connectMs > 0 {
                ctx = redisConnectWithTimeout(ep.host, Int32(ep.port), Self.timeval(ms: timeouts.connectMs))
            } else {
                ctx = redisConnect(ep.host, Int32(ep.port))
            }
            guard let ctx else { reasons.append("\(ep.text): out of memory"); continue }
            if ctx.pointee.err != 0 {
                reasons.append("\(ep.text): \(Self.errstr(ctx))")
                redisFree(ctx)
                continue
            }
            if timeouts.queryMs > 0 { redisSetTimeout(ctx, Self.timeval(ms: timeouts.queryMs)) }
            let link = RedisLink(ctx)
            if let pw = url.password {
                // Only an OK status is success: an error reply or no reply at all (a dead link, a timeout) is not.
                switch Self.command(link, ["AUTH", pw].map { Array($0.utf8) }) {
                case .status("OK")?: break
                case .error(let e)?: reasons.append("\(ep.text): AUTH failed: \(e)"); continue
                default: reasons.append("\(ep.text): AUTH failed: no reply"); continue
                }
            }
            if url.database != 0 {
                switch Self.command(link, ["SELECT", String(url.database)].map { Array($0.utf8) }) {
                case .status("OK")?: break
                case .error(let e)?: reasons.append("\(ep.text): SELECT \(url.database) failed: \(e)"); continue
                default: reasons.append("\(ep.text): SELECT \(url.database) failed: no reply"); continue
                }
            }
            if i != start {
                current.store(i, ordering: .relaxed)
                log(.notice, "\(url.masked): now using \(ep.text)")
            }
            return .success(link)
        }
        return .failure(PluginErrorText("cannot connect to \(url.masked): \(reasons.joined(separator: "; "))"))
    }

    private static func errstr(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: ctx.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The texts hiredis (0.14: no REDIS_ERR_TIMEOUT) puts in errstr for an I/O error that is a timeout: a socket
    /// read or write that hit SO_RCVTIMEO/SO_SNDTIMEO fails with EAGAIN (EWOULDBLOCK), strerror'd.
    private static let timeoutTexts: Set<String> = Set([EAGAIN, EWOULDBLOCK, ETIMEDOUT, EINTR].map { String(cString: strerror($0)) })

    /// Whether a link that gave no reply shows the server gone (closed: REDIS_ERR_EOF; reset, refused: another
    /// REDIS_ERR_IO) rather than a query_timeout or an error of this link only (a protocol error).
    static func serverGone(_ ctx: UnsafeMutablePointer<redisContext>) -> Bool {
        switch ctx.pointee.err {
        case REDIS_ERR_EOF: return true
        case REDIS_ERR_IO: return !timeoutTexts.contains(errstr(ctx))
        default: return false
        }
    }

    /// Sends argv, reads the reply; nil when the connection failed (no reply).
    static func command(_ link: RedisLink, _ argv: [[UInt8]]) -> RedisReply? {
        let lens = argv.map { $0.count }
        let ptrs = argv.map { a -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(a.count, 1))
            a.withUnsafeBufferPointer { b in
                if let base = b.baseAddress { UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: a.count) }
            }
            return p
        }
        defer { ptrs.forEach { $0.deallocate() } }
        var cptrs: [UnsafePointer<CChar>?] = ptrs.map { UnsafePointer($0) }
        guard let raw = redisCommandArgv(link.ctx, Int32(argv.count), &cptrs, lens) else { return nil }
        defer { freeReplyObject(raw) }
        return copy(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func copy(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        func text() -> [UInt8] {
            guard let s = r.pointee.str else { return [] }
            return Array(UnsafeRawBufferPointer(start: s, count: r.pointee.len))
        }
        switch r.pointee.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.pointee.integer))
        case REDIS_REPLY_NIL: return .nil_
        case REDIS_REPLY_STATUS: return .status(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var out: [RedisReply] = []
            for i in 0..<r.pointee.elements {
                if let e = r.pointee.element[i] { out.append(copy(e)) }
            }
            return .array(out)
        default: return .error("unknown reply type \(r.pointee.type)")
        }
    }

    /// Runs one command on this thread's connection, reconnecting once when the connection fails. nil when the
    /// server cannot be reached (logged).
    func run(_ argv: [[UInt8]]) -> RedisReply? {
        var lastError = ""
        for attempt in 0..<2 {
            let link: RedisLink
            // The retry always connects anew: the other idle links reach the same server and are most likely dead
            // too (a Redis restart kills them all), as OpenSIPS's per-process connection is reconnected.
            if attempt == 0, let l = idle.withLock({ $0.popLast() }) {
                link = l
            } else {
                switch connect() {
                case .success(let l): link = l
                case .failure(let e):
                    log(.err, e.message)
                    return nil
                }
            }
            if let reply = Self.command(link, argv) {
                idle.withLock { $0.append(link) }
                return reply
            }
            lastError = Self.errstr(link.ctx)
            // The server is gone: the idle links reach it and are dead too, dropped so later commands do not each
            // meet one (the array taken out is freed after the lock is released). A timeout leaves them: healthy.
            if Self.serverGone(link.ctx) { _ = idle.withLock { p -> [RedisLink] in defer { p = [] }; return p } }
            // `link` is dropped here: its connection is closed, and the next attempt opens a fresh one.
            log(.warn, "\(url.masked): connection lost (\(lastError)); reconnecting")
        }
        log(.err, "\(url.masked): \(String(decoding: argv.first ?? [], as: UTF8.self)) failed: \(lastError)")
        return nil
    }
}
