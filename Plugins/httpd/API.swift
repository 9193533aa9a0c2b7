// The sy_httpd_api table (switchyard_httpd.h) this module publishes as "httpd": C functions over HTTPDServer and
// HTTPRequest.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CMicroHTTPD
import SwitchyardABI
import SwitchyardPluginKit

/// Allocates the published table for `server` (static storage: it lives as long as the process).
func makeHTTPDTable(for server: HTTPDServer) -> UnsafePointer<sy_httpd_api> {
    var api = sy_httpd_api()
    api.header = sy_table_header(abi_major: UInt32(SY_HTTPD_MAJOR), abi_minor: UInt32(SY_HTTPD_MINOR),
                                 struct_size: UInt32(MemoryLayout<sy_httpd_api>.stride), reserved: 0)
    api.server = server.handle
    api.register_root = { handle, module, root, maxBody, handler, user in
        guard let server = HTTPDServer.from(handle), let module, let root, let handler else { return -2 }
        let r = HTTPRoot(module: String(cString: module), root: normalizedRoot(String(cString: root)),
                         maxBody: maxBody == 0 ? HTTPDConfig.defaultMaxBody : maxBody, handler: handler, user: user)
        guard !r.root.contains(where: { $0 == "?" || $0 == "#" || $0 == " " }) else { return -2 }
        guard server.roots.withLock({ $0.add(r) }) else {
            server.host.log(.err, "module \(r.module): the URL root /\(r.root) is already registered")
            return -1
        }
        server.host.log(.dbg, "module \(r.module) serves /\(r.root)")
        return 0
    }
    api.method = { req in
        guard let r = HTTPRequest.from(req) else { return sy_str(s: nil, len: 0) }
        return sy_str(s: r.method, len: strlen(r.method))
    }
    api.path = { req in
        guard let r = HTTPRequest.from(req) else { return sy_str(s: nil, len: 0) }
        return sy_str(s: r.path, len: strlen(r.path))
    }
    api.body = { req in
        guard let r = HTTPRequest.from(req) else { return sy_str(s: nil, len: 0) }
        return r.freezeBody()
    }
    api.request_header = { req, name, out in
        guard let r = HTTPRequest.from(req), let name, let out,
              let v = MHD_lookup_connection_value(r.connection, SY_MHD_HEADER_KIND, name) else { return -1 }
        out.pointee = sy_str(s: v, len: strlen(v))
        return 0
    }
    api.query_arg = { req, name, out in
        guard let r = HTTPRequest.from(req), let name, let out,
              let v = MHD_lookup_connection_value(r.connection, SY_MHD_GET_ARGUMENT_KIND, name) else { return -1 }
        out.pointee = sy_str(s: v, len: strlen(v))
        return 0
    }
    api.reply_header = { req, name, value in
        guard let r = HTTPRequest.from(req), let name, let value else { return -2 }
        let n = String(cString: name), v = String(cString: value)
        guard !n.isEmpty, !(n + v).contains(where: { $0 == "\r" || $0 == "\n" }) else { return -2 }
        return r.phase.withLock { _ in
            guard !r.answered else { return -1 }
            r.headers.append((n, v))
            return 0
        }
    }
    api.reply = { req, status, contentType, body, len in
        guard let r = HTTPRequest.from(req) else { return -2 }
        guard (100...599).contains(status) else { return -2 }
        let limit = r.server.config.bufSize
        let bytes = body.map { Array(UnsafeRawBufferPointer(start: $0, count: len)) } ?? []
        let type = contentType.map { String(cString: $0) }
        var resume = false
        let rc: Int32 = r.phase.withLock { phase in
            guard !r.answered else { return -1 }
            var rc: Int32 = 0
            if limit > 0 && len > limit {
                r.server.host.log(.err, "an answer of \(len) bytes exceeds buf_size (\(limit)): 500 sent instead")
                r.status = 500
                r.contentType = "text/plain; charset=utf-8"
                r.answerBody = Array("500 Internal Server Error: answer larger than buf_size\n".utf8)
                rc = -3
            } else {
                r.status = status
                r.contentType = type
                r.answerBody = bytes
            }
            if phase == .suspended {
                phase = .resumed
                r.server.resumed.add(r)
                resume = true
            }
            return rc
        }
        if resume { r.server.resume(r) }
        return rc
    }
    api.suspend = { req in
        guard let r = HTTPRequest.from(req) else { return -1 }
        return r.phase.withLock { phase in
            guard phase == .handling, !r.answered else { return -1 }
            phase = .suspendAsked
            return 0
        }
    }
    // Not allocate/initialize: a shorter sy_httpd_api of an older plugin in the process would cut the copy (CTable).
    return CTable.keep(&api, size: MemoryLayout<sy_httpd_api>.stride, alignment: MemoryLayout<sy_httpd_api>.alignment)
        .assumingMemoryBound(to: sy_httpd_api.self)
}
