// The OpenSIPS `mi_http` module as a Switchyard plugin: the Management Interface as JSON-RPC 2.0 over HTTP POST
// (`opensips-cli` with `communication_type = http`, `url = http://127.0.0.1:8888/mi`), served by the httpd module.
//
//   modparam("mi_http", "root", "mi")              URL path: POST http://<httpd ip>:<httpd port>/<root>
//   modparam("mi_http", "max_body_size", 1048576)  bigger requests get 413 (from httpd)
//
// httpd owns the socket, the threads and the HTTP protocol; this module registers its root and turns each POST body
// into one mi_dispatch call. See README.md next to this file.
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: MIHTTPModule.name) else { return nil } // another ABI major: refuse
    return MIHTTPModule(host: host).build().pointer // allocated once, never freed
}

final class MIHTTPModule: Sendable {
    static let name = "mi_http"
    static let version = "2.0.0"

    let host: PluginHost
    let root = Mutex("mi")
    let maxBody = Atomic<Int>(1 << 20)
    /// The bound httpd table; set once in init, read by the handler.
    let http = Mutex<HTTPDTable?>(nil)

    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "Management Interface: JSON-RPC 2.0 over HTTP POST (on httpd)")
        m.dependency(on: "httpd")
        for name in ["root", "mi_http_root"] {
            m.param(name, .str) { [self] v in
                guard let s = v.stringValue else { throw PluginError("must be a URL path such as \"mi\"") }
                var t = Substring(s)
                while t.hasPrefix("/") { t = t.dropFirst() }
                while t.hasSuffix("/") { t = t.dropLast() }
                guard !t.contains(where: { $0 == "?" || $0 == "#" || $0 == " " }) else { throw PluginError("'\(s)' is not a URL path") }
                root.withLock { $0 = String(t) }
            }
        }
        m.param("max_body_size", .int) { [self] v in
            guard let i = v.intValue, (1...(256 << 20)).contains(i) else { throw PluginError("must be 1..268435456 bytes") }
            maxBody.store(Int(i), ordering: .relaxed)
        }
        m.onInit { [self] in try start() }
        return m.build()
    }

    func start() throws {
        guard host.providesMIDispatch else { throw PluginError("the core is too old for MI transports (needs ABI 1.3)") }
        // An httpd 1.0 table is enough (no suspend: commands that answer later then hold the httpd thread).
        let v10 = MemoryLayout<sy_httpd_api>.offset(of: \sy_httpd_api.suspend) ?? MemoryLayout<sy_httpd_api>.stride
        let api = try host.apiBind(SY_HTTPD_API_NAME, major: UInt32(SY_HTTPD_MAJOR), minSize: UInt32(v10))
            .assumingMemoryBound(to: sy_httpd_api.self)
        let table = HTTPDTable(api)
        http.withLock { $0 = table }
        let r = root.withLock { $0 }
        let user = UnsafeMutableRawPointer(Unmanaged.passUnretained(self).toOpaque()) // the module is never freed
        let rc = api.pointee.register_root?(api.pointee.server, Self.name, r, UInt64(maxBody.load(ordering: .relaxed)), { user, req in
            guard let user, let req else { return }
            Unmanaged<MIHTTPModule>.fromOpaque(user).takeUnretainedValue().serve(req)
        }, user) ?? -2
        guard rc == 0 else { throw PluginError(rc == -1 ? "the URL root /\(r) is taken by another module" : "httpd refused the URL root /\(r)") }
        host.log(.info, "MI over HTTP at /\(r)")
    }

    /// One request, answered as MIHTTPAnswer says.
    func serve(_ req: OpaquePointer) {
        guard let t = http.withLock({ $0 }) else { return }
        let body = t.api.pointee.body?(req) ?? sy_str(s: nil, len: 0)
        let raw = UnsafeRawBufferPointer(start: body.s, count: body.s == nil ? 0 : body.len)
        let method = t.method(req)
        if method == "POST", !raw.isEmpty, t.canSuspend {
            // A command that answers later (t_uac_dlg waiting for its final reply) holds no httpd thread: the
            // connection waits suspended and the answer is sent from the thread that gives it.
            let reqBits = UInt(bitPattern: req)
            let outcome = host.miDispatchAsync(raw) { reply in
                guard let req = OpaquePointer(bitPattern: reqBits) else { return }
                let a = MIHTTPAnswer.answer(reply: reply)
                t.reply(req, a.status, a.contentType, a.body)
            }
            switch outcome {
            case .answered: return
            case .later:
                _ = t.api.pointee.suspend?(req) // -1: answered meanwhile, which is sent as it is
                return
            case .none:
                t.reply(req, 202, nil, [])
                return
            case .unsupported: break
            }
        }
        let a = MIHTTPAnswer.answer(method: method, path: root.withLock { $0 }, body: raw) { host.miDispatch($0) }
        if let line = a.log { host.log(.info, line) }
        if let allow = a.allow { t.header(req, "Allow", allow) }
        t.reply(req, a.status, a.contentType, a.body)
    }
}

/// The bound httpd table with Swift conveniences.
struct HTTPDTable: @unchecked Sendable { // points at httpd's table, which lives as long as the process
    let api: UnsafePointer<sy_httpd_api>
    init(_ api: UnsafePointer<sy_httpd_api>) { self.api = api }

    /// The table has `suspend` (httpd API 1.1).
    var canSuspend: Bool {
        let end = (MemoryLayout<sy_httpd_api>.offset(of: \sy_httpd_api.suspend) ?? Int.max) + MemoryLayout<UnsafeRawPointer>.size
        return Int(api.pointee.header.struct_size) >= end && api.pointee.suspend != nil
    }

    func method(_ req: OpaquePointer) -> String {
        guard let m = api.pointee.method?(req), let s = m.s else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: s, count: m.len), as: UTF8.self)
    }

    func header(_ req: OpaquePointer, _ name: String, _ value: String) {
        _ = api.pointee.reply_header?(req, name, value)
    }

    func reply(_ req: OpaquePointer, _ status: Int32, _ contentType: String?, _ body: [UInt8]) {
        _ = body.withUnsafeBytes { raw in
            api.pointee.reply?(req, status, contentType, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
    }
}
