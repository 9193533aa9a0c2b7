// The private servers the backend tests run against: .ci/servers.sh starts them and exports their URLs. A test that
// needs one and does not find its variable FAILS, naming the variable and the command to run (never a silent skip).
import Foundation

public enum TestServers {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// The value of `name`, or an error naming the server and how to start it.
    public static func env(_ name: String, server: String) throws -> String {
        if let v = ProcessInfo.processInfo.environment[name], !v.isEmpty { return v }
        throw Missing(description: "\(server) is needed: \(name) is not set. Start the private test servers and export "
                      + "their URLs: .ci/servers.sh start && eval \"$(.ci/servers.sh env)\" (then run the tests again)")
    }

    public static func mysqlURL() throws -> String { try env("SY_TEST_MYSQL_URL", server: "MariaDB") }
    public static func postgresURL() throws -> String { try env("SY_TEST_POSTGRES_URL", server: "PostgreSQL") }
    public static func redisURL() throws -> String { try env("SY_TEST_REDIS_URL", server: "Redis") }

    /// Runs `.ci/servers.sh ACTION NAME` (restart/stopone/startone) and waits for it.
    public static func control(_ action: String, _ name: String) throws {
        let ctl = try env("SY_TEST_SERVERS_CTL", server: "the servers script")
        let (status, out) = try run(ctl, [action, name])
        guard status == 0 else { throw Missing(description: "\(ctl) \(action) \(name) failed: \(out)") }
    }

    /// Runs a command to completion: (exit status, stdout+stderr). Through system(3) and files rather than Process:
    /// a server running in the test process may handle SIGCHLD, which Process relies on to notice the exit.
    @discardableResult
    public static func run(_ exe: String, _ args: [String], stdin: String? = nil,
                           env extra: [String: String] = [:]) throws -> (Int32, String) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sy-run-\(UUID().uuidString)").path
        let inPath = base + ".in", outPath = base + ".out"
        defer { unlink(inPath); unlink(outPath) }
        guard FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8)) else {
            throw Missing(description: "cannot write \(inPath)")
        }
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let envPart = extra.map { "\($0.key)=\(quote($0.value))" }.joined(separator: " ")
        let cmd = "\(envPart) \(([exe] + args).map(quote).joined(separator: " ")) <\(quote(inPath)) >\(quote(outPath)) 2>&1"
        let rc = system(cmd)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let status: Int32 = rc == -1 ? -1 : (rc >> 8) & 0xFF
        return (status, out)
    }

    /// A loopback TCP port nobody listens on: one the kernel hands out, bound and closed again (a fixed "closed"
    /// port could be someone's server on a shared machine).
    public static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 1 }
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: a.sin_port)) : 1
    }

    /// Polls `cond` until it holds or `timeout` passes.
    public static func waitUntil(_ timeout: TimeInterval, _ cond: () -> Bool) -> Bool {
        SwitchyardTestSupport.waitUntil(timeout: timeout, poll: 0.02, cond)
    }

    /// The repository root (this file is Tests/SwitchyardTestSupport/TestServers.swift).
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// The parts of a test URL (scheme://user:password@host:port/database).
public struct ServerURL {
    public let scheme, user, password, host: String
    public let port: Int
    public let database: String

    public init(_ url: String) {
        let afterScheme = url.components(separatedBy: "://")
        scheme = afterScheme[0]
        let rest = afterScheme.count > 1 ? afterScheme[1] : ""
        let at = rest.split(separator: "@", maxSplits: 1).map(String.init)
        let creds = at.count > 1 ? at[0].split(separator: ":", maxSplits: 1).map(String.init) : []
        user = creds.first ?? ""
        password = creds.count > 1 ? creds[1] : ""
        let hostPart = at.last ?? ""
        let hp = hostPart.split(separator: "/", maxSplits: 1).map(String.init)
        let hostPort = hp.first?.split(separator: ":").map(String.init) ?? []
        host = hostPort.first ?? ""
        port = hostPort.count > 1 ? Int(hostPort[1]) ?? 0 : 0
        database = hp.count > 1 ? hp[1].trimmingCharacters(in: CharacterSet(charactersIn: "/")) : ""
    }

    /// The same server and credentials, another database.
    public func with(database db: String) -> String { "\(scheme)://\(user):\(password)@\(host):\(port)/\(db)" }
}
