// The servers' own command-line clients (mariadb, psql) as the tests' second, independent peer: they create the
// scratch databases, load the shipped schema files and check what Switchyard wrote.
import Foundation

public struct SQLCLI {
    public enum Kind { case mysql, postgres }
    public let kind: Kind
    public let url: ServerURL

    public init(_ kind: Kind, url: String) {
        self.kind = kind
        self.url = ServerURL(url)
    }

    /// Runs SQL (a script is fine) on `database` (default: the URL's); returns the output rows, tab-separated.
    @discardableResult
    public func run(_ sql: String, database: String? = nil) throws -> [String] {
        let db = database ?? url.database
        let (status, out): (Int32, String)
        switch kind {
        case .mysql:
            (status, out) = try TestServers.run("mariadb", ["--no-defaults", "-h", url.host, "-P", String(url.port), "-u", url.user,
                                                          "-p" + url.password, "-N", "-B", db], stdin: sql)
        case .postgres:
            (status, out) = try TestServers.run("psql", ["-h", url.host, "-p", String(url.port), "-U", url.user, "-d", db,
                                                       "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-F", "\t"],
                                                stdin: sql, env: ["PGPASSWORD": url.password])
        }
        guard status == 0 else { throw TestServers.Missing(description: "\(kind) client failed (\(status)): \(out)") }
        return out.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("NOTICE") }
    }

    /// A fresh database named `name` (dropped first if left over); returns its URL.
    public func createDatabase(_ name: String) throws -> String {
        try run("DROP DATABASE IF EXISTS \(name)")
        try run("CREATE DATABASE \(name)")
        return url.with(database: name)
    }

    public func dropDatabase(_ name: String) {
        _ = try? run("DROP DATABASE IF EXISTS \(name)")
    }

    /// Loads a schema file of the repository (e.g. Plugins/drouting/schema/mysql.sql) into `database`.
    public func load(_ relativePath: String, database: String) throws {
        let sql = try String(contentsOf: TestServers.repoRoot.appendingPathComponent(relativePath), encoding: .utf8)
        try run(sql, database: database)
    }
}
