// DatabaseURL: what a sqlite:// URL names — a file (absolute, or relative to the working directory) or :memory:.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwitchyardABI
import SwitchyardPluginKit

/// A parsed `sqlite:` URL.
///
///     sqlite:///var/lib/switchyard/routing.db   absolute path /var/lib/switchyard/routing.db
///     sqlite://data/routing.db                   relative: <working directory>/data/routing.db
///     sqlite://:memory:                          a private in-memory database (one per connect())
///
/// The scheme is case-insensitive; the path is percent-decoded (`%20`), has no query part and no host/credentials.
enum DatabaseURL: Equatable, Sendable {
    case file(String)
    case memory

    static let scheme = "sqlite"

    /// Parses `url`; relative paths are made absolute against `workingDirectory` (the process's, by default) so a
    /// later chdir cannot move the database.
    static func parse(_ url: String, workingDirectory: String? = nil) throws(DBError) -> DatabaseURL {
        let prefix = scheme + "://"
        guard url.utf8.count > prefix.utf8.count, url.lowercased().hasPrefix(prefix) else {
            if url.lowercased().hasPrefix(prefix) {
                throw DBError.badArg("bad database URL '\(url)': no path (sqlite:///absolute/file.db or sqlite://relative/file.db)")
            }
            throw DBError.badArg("bad database URL '\(url)': expected sqlite:///absolute/file.db or sqlite://relative/file.db")
        }
        let rest = String(url.dropFirst(prefix.count))
        if rest.contains("?") || rest.contains("#") {
            throw DBError.badArg("bad database URL '\(url)': query and fragment parts are not supported (encode '?' as %3F)")
        }
        guard let path = rest.percentDecoded(), !path.isEmpty else {
            throw DBError.badArg("bad database URL '\(url)': invalid percent-encoding")
        }
        if path.utf8.contains(0) { throw DBError.badArg("bad database URL: the path contains a NUL byte") }
        if path == ":memory:" { return .memory }
        if path.hasPrefix("/") { return .file(normalize(path)) }
        let cwd = workingDirectory ?? currentDirectory()
        guard let cwd else { throw DBError(SY_DB_E_CONNECT, "cannot resolve relative database path '\(path)': no working directory") }
        return .file(normalize(cwd.hasSuffix("/") ? cwd + path : cwd + "/" + path))
    }

    /// The path shown in messages and logs.
    var display: String {
        switch self {
        case .file(let p): return p
        case .memory: return ":memory:"
        }
    }

    /// Removes `.` components and repeated slashes (`..` is kept: it may cross a symlink).
    static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` made absolute against the working directory (and normalized); nil without a working directory.
    static func absolute(_ path: String) -> String? {
        if path.hasPrefix("/") { return normalize(path) }
        guard let cwd = currentDirectory() else { return nil }
        return normalize(cwd.hasSuffix("/") ? cwd + path : cwd + "/" + path)
    }

    static func currentDirectory() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Creates the directory that will hold `file` (and its parents), mode 0755, if missing.
    static func makeParentDirectory(of file: String) throws(DBError) {
        var components = file.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        components.removeLast()
        var dir = ""
        for c in components {
            dir += "/" + c
            var st = stat()
            if stat(dir, &st) == 0 {
                if (st.st_mode & S_IFMT) != S_IFDIR {
                    throw DBError(SY_DB_E_CONNECT, "cannot create database \(file): \(dir) is not a directory")
                }
                continue
            }
            if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                let reason = String(cString: strerror(errno))
                throw DBError(SY_DB_E_CONNECT, "cannot create directory \(dir) for database \(file): \(reason)")
            }
        }
    }
}
