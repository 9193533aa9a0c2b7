// An event's body on its way to the subscribers: a JSON event's text as FreeSWITCH sent it, or a plain event's decoded
// headers. A subscriber that takes values (subscribe_value, API 1.3) gets the headers as a tree (ABI 1.9): a plain
// event is never written as JSON text to be parsed again. One that takes text gets the JSON, written once per event and
// only if such a subscriber wants it.
import SwitchyardABI
import SwitchyardESL
import SwitchyardPluginKit

final class EventBody: @unchecked Sendable { // built by the reader, then used by the I/O thread only (deliverHeld)
    enum Form {
        /// The frame's body bytes as read: handed over as they are (no String made of them on the reader's thread;
        /// whoever keeps the text makes its own copy), with a NUL after the last byte in their storage
        /// (EventBody.json): a C subscriber that reads the body as a C string stops there.
        case json([UInt8])
        case plain(ESLEvent)
    }

    let form: Form
    private var text: String? = nil
    private var tree: SYTree? = nil

    init(_ form: Form) { self.form = form }

    /// A JSON event's body: the frame's bytes as they are when the parser left the NUL after them (always, unless
    /// the array was changed since), else a copy that has it.
    static func json(_ bytes: [UInt8]) -> EventBody { EventBody(.json(NulTerminatedBytes.terminated(bytes))) }

    /// The JSON text: as sent, or a plain event's, written now (once).
    func withText<R>(_ body: (sy_str) -> R) -> R {
        switch form {
        case .json(let bytes):
            return Self.withBytes(bytes, body)
        case .plain(let event):
            if text == nil { text = String(decoding: event.jsonPayload(), as: UTF8.self) }
            return sy_str.with(text!, body)
        }
    }

    /// The value: the JSON text (SY_VAL_STR) as sent, or a plain event's headers (SY_VAL_OBJECT).
    func withValue<R>(_ body: (UnsafePointer<sy_value>) -> R) -> R {
        switch form {
        case .json(let bytes):
            return Self.withBytes(bytes) { s in
                var v = sy_value()
                v.type = Int32(SY_VAL_STR.rawValue)
                v.s = s
                return withUnsafePointer(to: v, body)
            }
        case .plain(let event):
            if tree == nil { tree = Self.tree(event) }
            return tree!.withCValue(body)
        }
    }

    private static func withBytes<R>(_ bytes: [UInt8], _ body: (sy_str) -> R) -> R {
        bytes.withUnsafeBufferPointer { b in
            body(sy_str(s: UnsafeRawPointer(b.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }, len: b.count))
        }
    }

    /// The members ESLEvent.jsonPayload writes, in its order: each header (an "ARRAY::" value as an array of
    /// strings), then Content-Length and _body when there is a body.
    static func tree(_ event: ESLEvent) -> SYTree {
        var members: [SYTree.Member] = []
        members.reserveCapacity(event.headers.count + 2)
        for h in event.headers {
            if let items = ESLEvent.arrayItems(h.value) {
                members.append(SYTree.Member(h.name, .array(items.map(SYTree.string))))
            } else {
                members.append(SYTree.Member(h.name, .string(h.value)))
            }
        }
        if let body = event.body {
            members.append(SYTree.Member("Content-Length", .string(String(body.utf8.count))))
            members.append(SYTree.Member("_body", .string(body)))
        }
        return .object(members)
    }
}
