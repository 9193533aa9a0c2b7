// The OpenSIPS `httpd` module as a Switchyard plugin: the server's one HTTP listener (libmicrohttpd), on which other
// modules (mi_http, prometheus) register URL roots through the "httpd" API (switchyard_httpd.h).
//
//   modparam("httpd", "ip", "127.0.0.1")     modparam("httpd", "port", 8888)
//   modparam("httpd", "conn_timeout", 30)    seconds before a silent connection is closed
//
// See README.md next to this file.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: HTTPDModule.name) else { return nil } // another ABI major: refuse
    return HTTPDModule(host: host).build().pointer // allocated once, never freed
}

final class HTTPDModule: Sendable {
    static let name = "httpd"
    static let version = "1.0.0"

    let host: PluginHost
    let config = Mutex(HTTPDConfig())
    /// Set by init; the published table points at it, so it is never released.
    let server = Mutex<HTTPDServer?>(nil)

    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "HTTP server (libmicrohttpd) for modules such as mi_http and prometheus")
        m.param("ip", .str) { [self] v in
            guard let s = v.stringValue else { throw PluginError("must be an IP address") }
            var ip = s.hasPrefix("[") && s.hasSuffix("]") ? String(s.dropFirst().dropLast()) : s
            if ip.isEmpty { ip = "0.0.0.0" } // OpenSIPS: empty = every interface
            var a4 = in_addr(), a6 = in6_addr()
            guard inet_pton(AF_INET, ip, &a4) == 1 || inet_pton(AF_INET6, ip, &a6) == 1 else { throw PluginError("'\(s)' is not an IP address") }
            config.withLock { $0.ip = ip }
        }
        func intParam(_ name: String, _ range: ClosedRange<Int64>, _ unit: String, _ set: @escaping @Sendable (inout HTTPDConfig, Int) -> Void) {
            m.param(name, .int) { [self] v in
                guard let i = v.intValue, range.contains(i) else { throw PluginError("must be \(range.lowerBound)..\(range.upperBound)\(unit)") }
                config.withLock { set(&$0, Int(i)) }
            }
        }
        intParam("port", 1...65535, "") { $0.port = $1 }
        intParam("buf_size", 0...(1 << 30), " bytes (0 = no limit)") { $0.bufSize = $1 }
        intParam("post_buf_size", 256...(1 << 26), " bytes") { $0.postBufSize = $1 }
        intParam("receive_buf_size", Int64(HTTPDConfig.maxHead + 1024)...(1 << 24), " bytes") { $0.receiveBufSize = $1 }
        intParam("conn_timeout", 1...86_400, " seconds") { $0.connTimeout = $1 }
        intParam("threads", 1...64, "") { $0.threads = $1 }
        intParam("max_connections", 1...65_536, "") { $0.maxConnections = $1 }
        m.miCommand("httpd_list_root_path", help: "lists the URL roots served and the module serving each") { [self] _ in
            let roots = server.withLock { $0?.roots.withLock { $0.roots } } ?? []
            let items = roots.map { "{\"http_root\": \(MIReply.quote($0.root)), \"module\": \(MIReply.quote($0.module))}" }
            return .json("{\"http_roots\": [\(items.joined(separator: ", "))]}")
        }
        m.onInit { [self] in try start() }
        m.onDestroy { [self] in server.withLock { $0 }?.stop() }
        return m.build()
    }

    func start() throws {
        let s = HTTPDServer(host: host, config: config.withLock { $0 })
        try s.start()
        server.withLock { $0 = s }
        guard host.apiPublish(SY_HTTPD_API_NAME, UnsafeRawPointer(makeHTTPDTable(for: s))) else {
            s.stop()
            throw PluginError("cannot publish the \(SY_HTTPD_API_NAME) API (another module published it)")
        }
    }
}
