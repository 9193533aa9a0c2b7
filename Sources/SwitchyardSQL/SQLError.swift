// SQLError: a failed driver call as the DB API reports it (an sy_db_error_code and a one-line message), plus whether
// the connection was lost (then the call may be retried on a fresh connection).
import SwitchyardABI

public struct SQLError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case connect, noTable, busy, constraint, badArg, other

        var code: sy_db_error_code {
            switch self {
            case .connect: return SY_DB_E_CONNECT
            case .noTable: return SY_DB_E_NO_TABLE
            case .busy: return SY_DB_E_BUSY
            case .constraint: return SY_DB_E_CONSTRAINT
            case .badArg: return SY_DB_E_BAD_ARG
            case .other: return SY_DB_E_OTHER
            }
        }
    }

    /// How far a lost connection reaches, which decides whether the other idle sessions are closed too.
    public enum Reach: Sendable {
        /// Only this session (a timeout, a session-level error): the others are healthy and stay open.
        case session
        /// The error alone cannot tell (MySQL's 2013 is both a read timeout and a connection the server closed): the
        /// pool checks one idle session (ping) and closes them all only if that one is dead too.
        case unsure
        /// The server went away (EOF, reset, refused): every idle session to it is dead too.
        case server
    }

    public let kind: Kind
    public let message: String
    /// The connection is gone (server restarted, network cut, timeout): the session must be discarded.
    public let lost: Bool
    /// For a lost connection: whether the server is gone too (see Reach).
    public let reach: Reach

    public init(_ kind: Kind, _ message: String, lost: Bool = false, reach: Reach = .server) {
        self.kind = kind
        self.message = message
        self.lost = lost
        self.reach = reach
    }

    public var description: String { message }
    public var code: Int32 { kind.code.rawValue }

    /// Fills `err` (may be NULL): code and message, one line, cut at a UTF-8 boundary.
    public func write(to err: UnsafeMutablePointer<sy_db_error>?) {
        guard let err else { return }
        err.pointee.code = code
        err.pointee.reserved = 0
        var bytes = message.utf8.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 }
        withUnsafeMutableBytes(of: &err.pointee.message) { buf in
            let capacity = buf.count - 1
            if bytes.count > capacity {
                var n = capacity
                while n > 0 && (bytes[n] & 0xC0) == 0x80 { n -= 1 }
                bytes.removeSubrange(n...)
            }
            for (i, b) in bytes.enumerated() { buf[i] = b }
            buf[bytes.count] = 0
        }
    }

    /// Marks `err` (may be NULL) as "no error".
    public static func clear(_ err: UnsafeMutablePointer<sy_db_error>?) {
        guard let err else { return }
        err.pointee.code = SY_DB_OK.rawValue
        err.pointee.reserved = 0
        withUnsafeMutableBytes(of: &err.pointee.message) { $0[0] = 0 }
    }
}
