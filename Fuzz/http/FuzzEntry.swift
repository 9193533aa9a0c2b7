// libFuzzer entry point for what our code parses from an HTTP request. libmicrohttpd parses the request line, the
// header lines, chunked bodies and the query string; httpd then reads the path (which registered root serves it), the
// Content-Length value and the head's size (Plugins/httpd/HeadCheck.swift, Roots.swift), and mi_http turns the method
// and body into one MI call (Plugins/mi_http/Answer.swift over SwitchyardMI). The input is what libmicrohttpd hands
// over: "method\npath\ncontent-length\nbody" (an empty third line: no Content-Length header). Never traps; every
// decision is checked against its rule. Built with SwitchyardJSON and the SwitchyardABI header (see Fuzz/build.sh).
import SwitchyardABI
import SwitchyardJSON

@inline(never)
private func fail(_ what: String) -> Never {
    fatalError("HTTP invariant violated: \(what)")
}

private func root(_ module: String, _ root: String, maxBody: UInt64) -> HTTPRoot {
    HTTPRoot(module: module, root: normalizedRoot(root), maxBody: maxBody, handler: { _, _ in }, user: nil)
}

/// Two tables: mi_http, prometheus and a nested root; the second one with a catch-all too.
private let tables: [HTTPRootTable] = {
    var t = HTTPRootTable()
    for r in [root("mi_http", "/mi/", maxBody: 256), root("prometheus", "metrics", maxBody: 1 << 20),
              root("nested", "a/b", maxBody: 0)] where !t.add(r) { fail("could not register \(r.root)") }
    var withCatchAll = t
    if !withCatchAll.add(root("any", "", maxBody: 16)) || withCatchAll.add(root("again", "/mi", maxBody: 1)) {
        fail("a root was registered twice, or the catch-all was refused")
    }
    return [t, withCatchAll]
}()

private let dispatcher: MIDispatcher = {
    let registry = MIRegistry()
    try? registry.register(module: "fuzz", name: "echo", flags: [], recipes: [[], ["a"]]) { p in
        .result(.object(p.recipe.isEmpty ? [:] : ["a": p.json("a") ?? .null]))
    }
    return MIDispatcher(registry: registry)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    var fields: [ArraySlice<UInt8>] = []
    var rest = input[...]
    while fields.count < 3, let nl = rest.firstIndex(of: 10) {
        fields.append(ArraySlice(rest[..<nl]))
        rest = rest[(nl + 1)...]
    }
    guard fields.count == 3 else { return 0 }
    // libmicrohttpd hands C strings: nothing after a NUL reaches our code.
    func cString(_ s: ArraySlice<UInt8>) -> String { String(decoding: s.prefix { $0 != 0 }, as: UTF8.self) }
    let method = cString(fields[0]), path = cString(fields[1])
    let contentLength = fields[2].isEmpty ? nil : cString(fields[2])
    let body = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[rest.startIndex...])
    let headSize = method.utf8.count + path.utf8.count + 12 + (contentLength.map { 18 + $0.utf8.count } ?? 0)

    let shown = HeadCheck.shown(path)
    if shown.contains("?") || shown.count > 103 { fail("the logged path '\(shown)' has a query or is too long") }

    for table in tables {
        switch HeadCheck.decide(method: method, path: path, headSize: headSize, contentLength: contentLength, roots: table) {
        case .refuse(let status, _, _):
            switch status {
            case 431: if headSize <= HTTPDConfig.maxHead { fail("431 for a head of \(headSize) bytes") }
            case 404: if table.roots.contains(where: { $0.root.isEmpty || $0.matches(Substring(path)) }) { fail("404 for \(path) that a root serves") }
            case 413: if contentLength.flatMap({ UInt64($0) }) == nil { fail("413 without a Content-Length number") }
            default: fail("refused with \(status)")
            }
        case .serve(let r):
            if headSize > HTTPDConfig.maxHead { fail("a head of \(headSize) bytes was served") }
            if !r.root.isEmpty {
                let under = path == "/" + r.root || path.hasPrefix("/" + r.root + "/")
                if !under { fail("/\(r.root) serves \(path)") }
            } else if table.roots.contains(where: { !$0.root.isEmpty && $0.matches(Substring(path)) }) {
                fail("the catch-all serves \(path) that a named root matches")
            }
            if let n = contentLength.flatMap({ UInt64($0) }), n > r.maxBody { fail("a body of \(n) bytes over \(r.maxBody) was let in") }
            guard r.module == "mi_http", UInt64(body.count) <= r.maxBody else { continue }
            let a = MIHTTPAnswer.answer(method: method, path: r.root, body: body) { dispatcher.handle($0).map { Array($0.utf8) } }
            switch a.status {
            case 405: if method == "POST" || a.allow != "POST" { fail("405 for POST, or without Allow") }
            case 400: if method != "POST" || !body.isEmpty { fail("400 for a request with a body") }
            case 202: if method != "POST" || body.isEmpty { fail("202 for a request without a body") }
            case 200:
                guard method == "POST", a.contentType == "application/json",
                      case .object(let o)? = try? JSONParser().parse(a.body), o["jsonrpc"] == .string("2.0") else {
                    fail("200 without a JSON-RPC reply")
                }
            default: fail("mi_http answered \(a.status)")
            }
        }
    }
    return 0
}
