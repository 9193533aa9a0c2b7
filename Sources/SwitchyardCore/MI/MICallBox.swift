import SwitchyardABI
import SwitchyardMI

/// One MI request as a plugin handler sees it (`sy_mi_call`): named parameter lookup and
/// exactly one reply. Strings handed to C stay alive until the handler returns.
final class MICallBox {
    enum Param {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
        case null
        /// Arrays and objects, as compact JSON text.
        case json(String)
    }

    enum Reply {
        case json(String)
        case error(code: Int, message: String, data: String?)
    }

    let lookup: (String) -> Param?
    private(set) var reply: Reply?
    private var keep: [ContiguousArray<CChar>] = []
    /// Where the answer goes, and the calls the core answers itself at stop (ABI 1.9 mi_async_begin).
    let responder: MIResponder?
    let pending: MIPendingCalls?
    /// The handler promised its answer for later (mi_async_begin).
    private(set) var promised = false

    init(responder: MIResponder? = nil, pending: MIPendingCalls? = nil, lookup: @escaping (String) -> Param?) {
        self.responder = responder
        self.pending = pending
        self.lookup = lookup
    }

    /// mi_async_begin: the token the answer will come through; nil when answered already, asked twice, or outside
    /// a dispatched call.
    func promise() -> OpaquePointer? {
        guard !promised, reply == nil, !builder.started, let responder, let pending else { return nil }
        promised = true
        pending.add(responder)
        return MIAsyncToken(responder: responder, pending: pending).handle
    }

    static func from(_ p: OpaquePointer) -> MICallBox {
        Unmanaged<MICallBox>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    var pointer: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    private func hand(_ s: String, _ out: UnsafeMutablePointer<sy_str>) {
        let c = ContiguousArray(s.utf8CString)
        keep.append(c)
        out.pointee = keep[keep.count - 1].withUnsafeBufferPointer { sy_str(s: $0.baseAddress, len: $0.count - 1) }
    }

    func paramString(_ name: String, _ out: UnsafeMutablePointer<sy_str>) -> Int32 {
        guard let p = lookup(name) else { return -1 }
        switch p {
        case .string(let s): hand(s, out)
        case .int(let i): hand(String(i), out)
        case .double(let d): hand(String(d), out)
        case .bool(let b): hand(b ? "true" : "false", out)
        case .null, .json: return -2
        }
        return 0
    }

    func paramInt(_ name: String, _ out: UnsafeMutablePointer<Int64>) -> Int32 {
        guard let p = lookup(name) else { return -1 }
        switch p {
        case .int(let i): out.pointee = i
        case .string(let s):
            guard let i = Int64(s.trimmingCharacters(in: .whitespaces)) else { return -2 }
            out.pointee = i
        case .double(let d) where d == d.rounded(): out.pointee = Int64(d)
        default: return -2
        }
        return 0
    }

    func paramJSON(_ name: String, _ out: UnsafeMutablePointer<sy_str>) -> Int32 {
        guard let p = lookup(name) else { return -1 }
        switch p {
        case .json(let t): hand(t, out)
        case .string(let s): hand(MICallBox.quote(s), out)
        case .int(let i): hand(String(i), out)
        case .double(let d): hand(String(d), out)
        case .bool(let b): hand(b ? "true" : "false", out)
        case .null: hand("null", out)
        }
        return 0
    }

    func replyJSON(_ text: String) {
        // The first answer wins; once the builder (1.6) started, it is the answer.
        if reply == nil && !builder.started { reply = .json(text) }
    }

    func replyError(_ code: Int, _ message: String, _ data: String?) {
        // An error replaces anything built so far (a handler may fail half-way through a reply).
        if reply == nil { reply = .error(code: code, message: message, data: data) }
    }

    // MARK: the reply builder (ABI 1.6 mi_add_*)

    private(set) var builder = MIReplyBuilder()

    /// Runs one builder step; -1 when the call already answered with mi_reply_json/error or the step is misused.
    func build(_ step: (inout MIReplyBuilder) -> Bool) -> Int32 {
        guard reply == nil else { return -1 }
        return step(&builder) ? 0 : -1
    }

    /// The built answer, if the handler used the builder (open containers closed).
    func builtReply() -> JSONValue? {
        builder.started ? builder.finish() : nil
    }

    static func quote(_ s: String) -> String {
        var o = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\r": o += "\\r"
            case "\t": o += "\\t"
            default:
                if u.value < 0x20 { o += String(format: "\\u%04x", u.value) } else { o.unicodeScalars.append(u) }
            }
        }
        return o + "\""
    }
}

import Foundation
