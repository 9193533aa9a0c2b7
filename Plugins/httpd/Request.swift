// One request on its way through httpd: collected between libmicrohttpd's calls of the access handler, handed to
// the root's handler as the opaque sy_httpd_request, answered once.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CMicroHTTPD
import SwitchyardABI
import Synchronization

final class HTTPRequest: @unchecked Sendable { // used by one libmicrohttpd thread at a time (the connection's); the
    // answer of a suspended request (API 1.1) is written by another thread under `phase` and read after it
    let server: HTTPDServer
    let connection: OpaquePointer
    /// Copies (strdup) so the sy_str views handed to the handler stay put; freed in deinit.
    let method: UnsafeMutablePointer<CChar>
    let path: UnsafeMutablePointer<CChar>
    let root: HTTPRoot?
    var body: [UInt8] = []
    /// The body in storage that does not move, made when the handler is called; freed in deinit.
    private(set) var frozenBody: UnsafeMutableRawBufferPointer?
    /// The body went past the root's limit: the rest is discarded and the answer is 413.
    var tooLarge = false

    // The answer, built by the handler through the API and queued when it returns.
    var status: Int32 = 0
    var contentType: String?
    var answerBody: [UInt8] = []
    var headers: [(String, String)] = []
    var answered: Bool { status != 0 }

    /// Where the answer stands (API 1.1 suspend): the handler runs; it asked to answer later; the connection is
    /// suspended; the answer came and the connection was resumed; the answer was handed to libmicrohttpd.
    enum Phase { case handling, suspendAsked, suspended, resumed, handed }
    let phase = Mutex(Phase.handling)

    init(server: HTTPDServer, connection: OpaquePointer, method: UnsafePointer<CChar>, path: UnsafePointer<CChar>, root: HTTPRoot?, reserve: Int) {
        self.server = server
        self.connection = connection
        self.method = strdup(method)
        self.path = strdup(path)
        self.root = root
        body.reserveCapacity(reserve)
    }

    deinit {
        free(method)
        free(path)
        frozenBody?.deallocate()
    }

    /// The body as a sy_str valid until deinit.
    func freezeBody() -> sy_str {
        if frozenBody == nil {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(body.count, 1), alignment: 1)
            body.withUnsafeBytes { b.copyMemory(from: $0) }
            frozenBody = b
        }
        return sy_str(s: frozenBody?.baseAddress?.assumingMemoryBound(to: CChar.self), len: body.count)
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ p: OpaquePointer?) -> HTTPRequest? {
        guard let p else { return nil }
        return Unmanaged<HTTPRequest>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

}

/// A ready answer: status, type and body, queued on the connection (copied by libmicrohttpd).
func queueAnswer(_ connection: OpaquePointer, status: Int32, contentType: String?, body: [UInt8],
                 headers: [(String, String)] = []) -> MHD_Result {
    let response = body.withUnsafeBytes { raw in
        MHD_create_response_from_buffer(raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), SY_MHD_RESPMEM_MUST_COPY)
    }
    guard let response else { return SY_MHD_NO }
    defer { MHD_destroy_response(response) }
    if let contentType { _ = MHD_add_response_header(response, "Content-Type", contentType) }
    for (name, value) in headers { _ = MHD_add_response_header(response, name, value) }
    return MHD_queue_response(connection, UInt32(status), response)
}

/// A plain-text error answer ("413 Content Too Large: ...").
func queueError(_ connection: OpaquePointer, _ status: Int32, _ text: String, headers: [(String, String)] = []) -> MHD_Result {
    queueAnswer(connection, status: status, contentType: "text/plain; charset=utf-8",
                body: Array("\(status) \(reasonPhrase(status)): \(text)\n".utf8), headers: headers)
}

func reasonPhrase(_ status: Int32) -> String {
    if let p = MHD_get_reason_phrase_for(UInt32(status)) { return String(cString: p) }
    return "Status"
}
