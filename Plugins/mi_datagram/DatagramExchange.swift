// What mi_datagram answers to one received datagram, apart from the socket: one JSON-RPC request per datagram, at
// most one datagram back. Pure logic over the bytes and the MI (fuzzed by Fuzz/mi-datagram).
import SwitchyardJSON

struct DatagramExchange {
    /// The reply to send; nil for a notification.
    var reply: [UInt8]?
    /// The size of a reply that did not fit in one datagram (an error was put in its place), for the log.
    var oversizedReply: Int? = nil

    /// `received` is the datagram's full length as recvfrom(MSG_TRUNC) reports it, `request` its first bytes (at most
    /// `limit`); `dispatch` is the MI (mi_dispatch).
    static func answer(request: UnsafeRawBufferPointer, received: Int, limit: Int,
                       dispatch: (UnsafeRawBufferPointer) -> [UInt8]?) -> DatagramExchange {
        if received > limit || request.count > limit {
            return DatagramExchange(reply: errorReply(-32700, "Parse error", "Request larger than \(limit) bytes", id: .null))
        }
        guard let reply = dispatch(request) else { return DatagramExchange(reply: nil) }
        return fit(reply, limit: limit)
    }

    /// A reply as sent: itself when it fits in one datagram, else an error in its place.
    static func fit(_ reply: [UInt8], limit: Int) -> DatagramExchange {
        if reply.count <= limit { return DatagramExchange(reply: reply) }
        // The request's id when the error that names it fits; a huge id (the request can be as large as the datagram)
        // would not, so then the error goes with id null.
        let id = (try? JSONParser().parse(reply))?.objectValue?["id"] ?? .null
        let data = "Reply larger than \(limit) bytes (one datagram)"
        var error = errorReply(-32000, "Server error", data, id: id)
        if error.count > limit { error = errorReply(-32000, "Server error", data, id: .null) }
        return DatagramExchange(reply: error, oversizedReply: reply.count)
    }

    static func errorReply(_ code: Int, _ message: String, _ data: String, id: JSONValue) -> [UInt8] {
        Array(#"{"jsonrpc":"2.0","error":{"code":\#(code),"message":\#(JSONSerializer.quoted(message)),"data":\#(JSONSerializer.quoted(data))},"id":\#(JSONSerializer.serialize(id))}"#.utf8)
    }
}
