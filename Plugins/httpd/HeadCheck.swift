// What httpd decides from a request head before any body arrives. libmicrohttpd has parsed the request line, the
// header lines and the query string; this is the part of the head our code reads: the path (which root serves it),
// the Content-Length value and the head's size. Pure logic over strings (fuzzed by Fuzz/http).

enum HeadCheck {
    /// Answered at once with this status and text; no module sees the request.
    case refuse(status: Int32, text: String, log: String?)
    /// Served by this root; the body is collected up to the root's limit.
    case serve(HTTPRoot)

    /// `path` is the URL as libmicrohttpd hands it (no query string), `headSize` the bytes of the request line and
    /// headers, `contentLength` the header's value when there is one.
    static func decide(method: String, path: String, headSize: Int, contentLength: String?,
                       roots: HTTPRootTable) -> HeadCheck {
        if headSize > HTTPDConfig.maxHead {
            return .refuse(status: 431, text: "request head larger than \(HTTPDConfig.maxHead) bytes",
                           log: "request head of \(headSize) bytes refused (431): the limit is \(HTTPDConfig.maxHead)")
        }
        guard let root = roots.find(Substring(path)) else {
            return .refuse(status: 404, text: "nothing is served at \(path)", log: nil)
        }
        // A value that is not a number is libmicrohttpd's to refuse (it reads the body by it); a number over the
        // root's limit is refused before a byte of the body is read.
        if let contentLength, let length = UInt64(contentLength), length > root.maxBody {
            return .refuse(status: 413, text: "request body of \(length) bytes exceeds the limit of \(root.maxBody)",
                           log: "\(method) \(shown(path)): Content-Length \(length) over the limit of \(root.maxBody) refused (413)")
        }
        return .serve(root)
    }

    /// A request's path as logs show it: no query string (it may carry credentials), at most 100 characters.
    static func shown(_ url: String) -> String {
        let path = url.prefix { $0 != "?" }
        return path.count > 100 ? path.prefix(100) + "..." : String(path)
    }
}
