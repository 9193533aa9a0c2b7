// The httpd module's settings, written by modparams before init and read once when the daemon starts.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct HTTPDConfig: Sendable {
    /// Address to listen on; Switchyard defaults to the loopback (OpenSIPS: every interface), see README.
    var ip = "127.0.0.1"
    var port = 8888
    /// Largest answer body in bytes; 0 = no limit.
    var bufSize = 0
    /// Initial reservation for a request body (OpenSIPS's POST processing buffer); bodies grow past it.
    var postBufSize = 1024
    /// libmicrohttpd's per-connection memory (request head plus read buffer), bytes.
    var receiveBufSize = 32 * 1024
    /// Seconds a connection may stay silent (idle, or half-way through a request) before it is closed.
    var connTimeout = 30
    /// libmicrohttpd polling threads (each with its own epoll set).
    var threads = 4
    /// Connections open at once; more are refused at accept.
    var maxConnections = 1024

    /// The request head (request line plus header lines) above which httpd answers 431.
    static let maxHead = 16 * 1024
    /// The body limit of a root registered with max_body 0.
    static let defaultMaxBody: UInt64 = 1 << 20

    /// The listening address as a sockaddr (IPv4 or IPv6); nil when `ip` is not a numeric address.
    func socketAddress() -> (storage: sockaddr_storage, family: Int32)? {
        var storage = sockaddr_storage()
        var a4 = in_addr(), a6 = in6_addr()
        if inet_pton(AF_INET, ip, &a4) == 1 {
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = in_port_t(UInt16(port).bigEndian)
                sin.pointee.sin_addr = a4
            }
            return (storage, AF_INET)
        }
        if inet_pton(AF_INET6, ip, &a6) == 1 {
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                sin6.pointee.sin6_port = in_port_t(UInt16(port).bigEndian)
                sin6.pointee.sin6_addr = a6
            }
            return (storage, AF_INET6)
        }
        return nil
    }

    /// "127.0.0.1:8888" / "[::1]:8888" for log lines.
    var endpoint: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
}
