// SQLConnection: what the DB API's connect() returns for a server driver — one URL, and the sessions open to it:
// each worker thread that queries takes a session of its own from the pool (so there are at most as many sessions
// as threads querying at once: a connection per worker), and a lost session is replaced on the spot.
//
// Reconnection, as OpenSIPS does it: a call whose session reports the connection lost is retried on a new session,
// up to `maxAttempts` attempts; a server that is down fails the calls of the outage only, and the first call after it
// comes back reconnects. Inside a transaction nothing is retried (the transaction is gone with its session).
// The other idle sessions are closed with the lost one only when the server is gone (SQLError.Reach): after a
// restart they are all dead, after a timeout they are healthy and stay open.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

/// Settings a driver applies to every connection, and its log.
public struct SQLDriverSettings: Sendable {
    public var maxAttempts: Int
    /// Connection attempts after a call found its connection lost, before the call's next attempt gives up
    /// (db_mysql's max_db_retries); at least 1.
    public var reconnects: Int = 1
    /// Calls slower than this (µs) are logged as slow; 0 = off.
    public var slowQueryMicros: Int64
    public var log: @Sendable (LogLevel, String) -> Void
    /// Called when a connection's state flips: false when a call finds the server gone, true when a call works
    /// again (db_mysql raises E_MYSQL_CONNECTION with it).
    public var onStatus: (@Sendable (SQLURL, Bool) -> Void)?
    /// Called once per call (not per retry), with whether it was slow: the core statistics sql:sql_total_queries and
    /// sql:sql_slow_queries.
    public var onQuery: (@Sendable (_ slow: Bool) -> Void)?

    public init(maxAttempts: Int, slowQueryMicros: Int64, log: @escaping @Sendable (LogLevel, String) -> Void,
                onStatus: (@Sendable (SQLURL, Bool) -> Void)? = nil) {
        self.maxAttempts = maxAttempts
        self.slowQueryMicros = slowQueryMicros
        self.log = log
        self.onStatus = onStatus
    }
}

/// A session checked out of the pool. Sessions are not shared: the pool gives each to one thread at a time.
struct PooledSession: @unchecked Sendable {
    let session: SQLSession
}

public final class SQLConnection: Sendable {
    public let url: SQLURL
    public let dialect: SQLDialect
    let settings: SQLDriverSettings
    let open: @Sendable () throws(SQLError) -> SQLSession
    private let idle = Mutex<[PooledSession]>([])
    /// Sessions pinned to a thread by transaction(): thread → (session, nesting depth).
    private let pinned = Mutex<[UInt: (PooledSession, Int)]>([:])
    /// Sessions open now (idle + in use), for the log.
    let sessionCount = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    /// The server answered the last call (per connection, so several URLs never mix their states).
    private let up = Atomic<Bool>(true)

    /// Connects once (so a wrong password or an unreachable server fails here, at startup) and keeps that session.
    public init(url: SQLURL, dialect: SQLDialect, settings: SQLDriverSettings,
                open: @escaping @Sendable () throws(SQLError) -> SQLSession) throws(SQLError) {
        self.url = url
        self.dialect = dialect
        self.settings = settings
        self.open = open
        let first = try open()
        sessionCount.add(1, ordering: .relaxed)
        idle.withLock { $0.append(PooledSession(session: first)) }
    }

    deinit {
        for s in idle.withLock({ $0 }) { s.session.close() }
    }

    private static var thread: UInt { UInt(pthread_self()) }

    /// An idle session, or a new one; `fresh`: always a new one (a retry after a lost connection replaces it).
    private func acquire(fresh: Bool = false) throws(SQLError) -> PooledSession {
        if !fresh, let s = idle.withLock({ $0.popLast() }) { return s }
        do {
            let s = PooledSession(session: try open())
            let n = sessionCount.add(1, ordering: .relaxed).newValue
            settings.log(.dbg, "\(url.masked): session \(n) opened")
            return s
        } catch {
            throw SQLError(error.kind, error.message, lost: true, reach: error.reach)
        }
    }

    /// acquire(fresh:), with up to `tries` connection attempts (reconnecting after a lost connection).
    private func acquire(tries: Int, fresh: Bool) throws(SQLError) -> PooledSession {
        var left = tries
        while true {
            do { return try acquire(fresh: fresh) } catch {
                left -= 1
                if left <= 0 { throw error }
                settings.log(.warn, "\(url.masked): reconnect failed (\(error.message)); \(left) more attempt(s)")
            }
        }
    }

    /// acquire(tries:fresh:) for a call: a failure is logged and flips the status, as the call fails with it.
    private func checkout(tries: Int, fresh: Bool) throws(SQLError) -> PooledSession {
        do { return try acquire(tries: tries, fresh: fresh) } catch {
            settings.log(.err, "\(url.masked): cannot connect: \(error.message)")
            if error.reach == .server { closeAll() }
            status(false)
            throw error
        }
    }

    private func release(_ s: PooledSession) { idle.withLock { $0.append(s) } }

    private func status(_ isUp: Bool) {
        guard up.exchange(isUp, ordering: .relaxed) != isUp else { return }
        settings.log(isUp ? .notice : .err, "\(url.masked): \(isUp ? "connected again" : "disconnected")")
        settings.onStatus?(url, isUp)
    }

    private func discard(_ s: PooledSession) {
        s.session.close()
        sessionCount.subtract(1, ordering: .relaxed)
    }

    /// Closes every idle session (on close(), and when the server is gone), outside the pool's lock.
    func closeAll() {
        for s in idle.withLock({ p -> [PooledSession] in defer { p = [] }; return p }) { discard(s) }
    }

    /// After a lost session: the idle ones are closed too only when the server is gone (they reach the same server,
    /// so later calls do not each meet a dead one). After a timeout or a session-level loss they stay: they are
    /// healthy, and closing them would make every worker reconnect at once.
    private func dropIdle(after e: SQLError) {
        switch e.reach {
        case .session: return
        case .server: closeAll()
        case .unsure:
            guard let probe = idle.withLock({ $0.popLast() }) else { return }
            if probe.session.ping() { release(probe) } else { discard(probe); closeAll() }
        }
    }

    /// Runs `body` on this thread's session: the pinned one inside a transaction, else one from the pool, retried on
    /// a new session while the connection is reported lost.
    public func run(_ what: @autoclosure () -> String,
                    _ body: (SQLSession) throws(SQLError) -> Int64) throws(SQLError) -> Int64 {
        inFlight.add(1, ordering: .relaxed)
        defer { inFlight.subtract(1, ordering: .relaxed) }
        let started = settings.slowQueryMicros > 0 ? Self.nowMicros() : 0
        defer {
            var slow = false
            if settings.slowQueryMicros > 0 {
                let took = Self.nowMicros() - started
                if took > settings.slowQueryMicros {
                    slow = true
                    settings.log(.warn, "\(url.masked): slow query (\(took) µs > \(settings.slowQueryMicros) µs): \(what())")
                }
            }
            settings.onQuery?(slow)
        }
        let me = Self.thread
        if let (p, _) = pinned.withLock({ $0[me] }) { return try body(p.session) }
        var attempt = 0
        while true {
            attempt += 1
            let s = try checkout(tries: attempt > 1 ? max(1, settings.reconnects) : 1, fresh: attempt > 1)
            do {
                let n = try body(s.session)
                release(s)
                status(true)
                return n
            } catch {
                guard error.lost else { release(s); status(true); throw error }
                discard(s)
                dropIdle(after: error)
                status(false)
                if attempt < settings.maxAttempts {
                    settings.log(.warn, "\(url.masked): connection lost (\(error.message)); reconnecting")
                    continue
                }
                settings.log(.err, "\(url.masked): connection lost (\(error.message)); giving up after \(attempt) attempt(s)")
                throw error
            }
        }
    }

    /// The API's transaction(): BEGIN on a session pinned to this thread, fn, COMMIT or ROLLBACK; nested calls are
    /// savepoints.
    public func transaction(_ body: () -> Int32) throws(SQLError) -> Int32 {
        let me = Self.thread
        if let (p, depth) = pinned.withLock({ $0[me] }) {
            let sp = "sy_sp\(depth)"
            _ = try p.session.execute("SAVEPOINT \(sp)", [], row: nil, arg: nil)
            pinned.withLock { $0[me] = (p, depth + 1) }
            let rc = body()
            pinned.withLock { $0[me] = (p, depth) }
            if rc == 0 {
                _ = try p.session.execute("RELEASE SAVEPOINT \(sp)", [], row: nil, arg: nil)
                return 0
            }
            _ = try p.session.execute("ROLLBACK TO SAVEPOINT \(sp)", [], row: nil, arg: nil)
            return rc < 0 ? rc : SY_DB_E_OTHER.rawValue
        }
        // BEGIN on a dead session (the server restarted since it was used) is retried on a fresh one: nothing ran yet.
        // An outage is reported as run() reports it (log lines, status flips), so one first met by a transaction
        // raises its event too.
        var p = try checkout(tries: 1, fresh: false)
        var attempt = 1
        while true {
            do {
                _ = try p.session.execute(dialect.beginSQL, [], row: nil, arg: nil)
                status(true)
                break
            } catch {
                guard error.lost else { release(p); status(true); throw error }
                discard(p)
                dropIdle(after: error)
                status(false)
                guard attempt < settings.maxAttempts else {
                    settings.log(.err, "\(url.masked): connection lost (\(error.message)); giving up after \(attempt) attempt(s)")
                    throw error
                }
                attempt += 1
                settings.log(.warn, "\(url.masked): connection lost (\(error.message)); reconnecting")
                p = try checkout(tries: max(1, settings.reconnects), fresh: true)
            }
        }
        pinned.withLock { $0[me] = (p, 1) }
        let rc = body()
        pinned.withLock { _ = $0.removeValue(forKey: me) }
        do {
            _ = try p.session.execute(rc == 0 ? "COMMIT" : "ROLLBACK", [], row: nil, arg: nil)
            release(p)
        } catch {
            if error.lost {
                discard(p)
                dropIdle(after: error)
                status(false)
            } else {
                release(p)
            }
            throw error
        }
        return rc == 0 ? 0 : (rc < 0 ? rc : SY_DB_E_OTHER.rawValue)
    }

    static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
