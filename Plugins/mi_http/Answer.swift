// What mi_http answers to one HTTP request, apart from the httpd table: only POST with a body carries JSON-RPC, and
// the answer is the MI's single-line reply. Pure logic over the method, the body and the MI (fuzzed by Fuzz/http).

struct MIHTTPAnswer: Equatable {
    var status: Int32
    var contentType: String?
    var body: [UInt8]
    /// An `Allow` header to add (405).
    var allow: String? = nil
    /// A line for the log (info), for requests that carry no JSON-RPC.
    var log: String? = nil

    /// `dispatch` is the MI (mi_dispatch): the reply, nil for a notification, empty when the engine gave none.
    static func answer(method: String, path: String, body: UnsafeRawBufferPointer,
                       dispatch: (UnsafeRawBufferPointer) -> [UInt8]?) -> MIHTTPAnswer {
        guard method == "POST" else {
            return text(405, "only POST is allowed", allow: "POST", log: "\(method) /\(path): only POST is served (405)")
        }
        guard !body.isEmpty else {
            return text(400, "empty body: expected one JSON-RPC request", log: "POST /\(path) without a body (400)")
        }
        guard let r = dispatch(body) else { return MIHTTPAnswer(status: 202, contentType: nil, body: []) }
        return answer(reply: r)
    }

    /// The answer carrying the MI's reply (empty: the engine gave none).
    static func answer(reply r: [UInt8]) -> MIHTTPAnswer {
        r.isEmpty ? text(500, "the MI engine gave no answer") : MIHTTPAnswer(status: 200, contentType: "application/json", body: r)
    }

    static func text(_ status: Int32, _ text: String, allow: String? = nil, log: String? = nil) -> MIHTTPAnswer {
        MIHTTPAnswer(status: status, contentType: "text/plain; charset=utf-8", body: Array("\(status): \(text)\n".utf8),
                     allow: allow, log: log)
    }
}
