// sipmsg_validate([flags[, err_txt]]): RFC 3261 conformance checks of the message, with OpenSIPS's return codes and
// reasons. Flags: s (parse an SDP body), h (check header values), m (no Max-Forwards check), r (request-URI host and
// user), t / f (To / From URI), c (Contact URIs of an INVITE); other letters are ignored.
import SwitchyardPluginKit

extension SipMsgOps {
    struct ValidationFlags: OptionSet, Sendable {
        let rawValue: Int
        static let sdp = ValidationFlags(rawValue: 1), headers = ValidationFlags(rawValue: 2)
        static let noMaxForwards = ValidationFlags(rawValue: 4), ruri = ValidationFlags(rawValue: 8)
        static let to = ValidationFlags(rawValue: 16), from = ValidationFlags(rawValue: 32)
        static let contact = ValidationFlags(rawValue: 64)

        init(rawValue: Int) { self.rawValue = rawValue }
        init(_ text: String) {
            var f: ValidationFlags = []
            for c in text.lowercased() {
                switch c {
                case "s": f.insert(.sdp)
                case "h": f.insert(.headers)
                case "m": f.insert(.noMaxForwards)
                case "r": f.insert(.ruri)
                case "t": f.insert(.to)
                case "f": f.insert(.from)
                case "c": f.insert(.contact)
                default: break
                }
            }
            self = f
        }
    }

    /// OpenSIPS's number for a transport (enum sip_protos), as its -4 reason prints it.
    static func protoNumber(_ proto: String) -> Int {
        ["udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6][proto.lowercased()] ?? 0
    }

    /// A failed check: OpenSIPS's code and reason ("" where it gives none).
    struct Invalid: Error { let code: Int32; let reason: String }

    func sipmsgValidate(_ call: FunctionCall) -> Int32 {
        let flags = ValidationFlags(call.isPresent(0) ? call.string(0) : "")
        do {
            try validate(call.context, flags)
            return 1
        } catch {
            host.log(.dbg, "sipmsg_validate: message does not comply with SIP RFC3261 : (\(error.reason))")
            if call.isPresent(1), !call.set(1, .string(error.reason)) {
                host.log(.err, "sipmsg_validate: cannot populate parameter")
                return -255
            }
            return error.code
        }
    }

    func validate(_ ctx: SYContext, _ flags: ValidationFlags) throws(Invalid) {
        guard let info = withInfo(ctx, { i in
            (request: i.is_request != 0, status: Int(i.status), method: i.is_request != 0 ? i.method.string : "",
             cseqMethod: i.cseq_method.string, ruri: i.ruri.string, callID: i.call_id.len > 0)
        }) else { throw Invalid(code: -1, reason: "no message object") }
        func has(_ name: String) -> Bool { host.sipHeader(ctx, name) != nil }
        guard info.callID else { throw Invalid(code: -3, reason: "message doesn't have callid") }
        let proto = host.varString(ctx, v.proto) ?? "udp"
        if proto != "udp" && !has("Content-Length") {
            // OpenSIPS prints the number of msg->rcv.proto.
            throw Invalid(code: -4, reason: "message doesn't have Content Length header for proto \(SipMsgOps.protoNumber(proto))")
        }
        let body = host.varString(ctx, v.body) ?? ""
        let method = info.request ? info.method.uppercased() : info.cseqMethod.uppercased()
        // OpenSIPS skips the body checks for CANCEL requests only (a reply to a CANCEL is checked).
        if !(info.request && info.method.uppercased() == "CANCEL") {
            // The core parses the body as exactly Content-Length bytes (it refuses a shorter one and drops what follows
            // it), so only a body without the header can differ. $rb is text: its UTF-8 count is not the byte count of
            // a binary body (invalid bytes become U+FFFD), so it is not compared when the header is there.
            let length = host.sipHeader(ctx, "Content-Length")
            let declared = length.flatMap { Int($0.trimmingSpaces()) } ?? 0
            let actual = length != nil ? declared : body.utf8.count
            if declared != actual {
                throw Invalid(code: -5, reason: "invalid body - content length \(declared) different than actual body \(actual)")
            }
            if !body.isEmpty, flags.contains(.sdp), let type = host.varString(ctx, v.contentType),
               SipMsgOps.mediaType(type).0 == "application/sdp", !SipMsgOps.sdpParses(body) {
                throw Invalid(code: -6, reason: "failed to parse SDP message")
            }
        }
        guard has("CSeq") else { throw Invalid(code: -7, reason: "") }
        guard let from = host.sipHeader(ctx, "From") else { throw Invalid(code: -8, reason: "") }
        guard let to = host.sipHeader(ctx, "To") else { throw Invalid(code: -9, reason: "") }
        guard has("Via") else { throw Invalid(code: -10, reason: "") }
        if flags.contains(.to) { try SipMsgOps.checkAddress(to, "To", parse: -22, domain: -23, user: -29) }
        if flags.contains(.from) { try SipMsgOps.checkAddress(from, "From", parse: -24, domain: -25, user: -28) }
        if info.request {
            if flags.contains(.ruri) {
                guard let u = SipMsgOps.uriParts(info.ruri) else { throw Invalid(code: -11, reason: "failed to parse R-URI") }
                if !u.isTel && !SipMsgOps.validHostname(u.host) { throw Invalid(code: -12, reason: "invalid domain for R-URI") }
                if !SipMsgOps.validUsername(u.user) { throw Invalid(code: -27, reason: "invalid username for R-URI") }
            }
            if !flags.contains(.noMaxForwards) && !has("Max-Forwards") { throw Invalid(code: -13, reason: "") }
            if method == "INVITE" {
                guard has("Contact") else { throw Invalid(code: -14, reason: "") }
                if flags.contains(.contact) { try checkContacts(ctx) }
            }
            if method != "REGISTER" && has("Path") {
                throw Invalid(code: -15, reason: "PATH header supported only for REGISTERs")
            }
        } else if method != "CANCEL" {
            switch info.status {
            case 405 where !has("Allow"): throw Invalid(code: -16, reason: "")
            case 423 where method == "REGISTER" && !has("Min-Expires"): throw Invalid(code: -17, reason: "")
            case 407 where !has("Proxy-Authenticate"): throw Invalid(code: -18, reason: "")
            case 420 where !has("Unsupported"): throw Invalid(code: -19, reason: "")
            case 401 where !has("WWW-Authenticate"): throw Invalid(code: -20, reason: "")
            default: break
            }
        }
        if method != "CANCEL" && !body.isEmpty && !has("Content-Type") { throw Invalid(code: -21, reason: "") }
        if flags.contains(.headers) && !headerValuesValid(ctx) {
            throw Invalid(code: -2, reason: "failed to parse headers")
        }
    }

    /// To/From: a URI that parses, a valid host (not for tel:), a valid user.
    static func checkAddress(_ value: String, _ name: String, parse: Int32, domain: Int32, user: Int32) throws(Invalid) {
        guard let u = uriParts(addrSpec(value)) else { throw Invalid(code: parse, reason: "failed to parse '\(name)' header") }
        if !u.isTel && !validHostname(u.host) { throw Invalid(code: domain, reason: "invalid domain for '\(name)' header") }
        if !validUsername(u.user) { throw Invalid(code: user, reason: "invalid username for '\(name)' header") }
    }

    /// Every Contact of an INVITE: a URI with a host (`*` is not one).
    func checkContacts(_ ctx: SYContext) throws(Invalid) {
        var index = 0
        while let value = host.sipHeader(ctx, "Contact", index: index) {
            let items = SipMsgOps.splitOutsideBrackets(value)
            if items.isEmpty { throw Invalid(code: -26, reason: "empty body for 'Contact' header") }
            for item in items {
                guard let u = SipMsgOps.uriParts(SipMsgOps.addrSpec(item)), u.isTel || !u.host.isEmpty else {
                    throw Invalid(code: -26, reason: "failed to parse 'Contact' header")
                }
            }
            index += 1
        }
    }

    /// The header values OpenSIPS requires to be non-empty, and a numeric Max-Forwards.
    func headerValuesValid(_ ctx: SYContext) -> Bool {
        for name in ["Call-ID", "Proxy-Require", "Unsupported", "Accept-Language", "Organization", "Priority", "Subject",
                     "User-Agent", "Accept-Disposition", "Retry-After"] {
            var i = 0
            while let value = host.sipHeader(ctx, name, index: i) {
                if value.trimmingSpaces().isEmpty { return false }
                i += 1
            }
        }
        if let mf = host.sipHeader(ctx, "Max-Forwards"), MaxForwardsText.value(mf) == nil { return false }
        if let type = host.sipHeader(ctx, "Content-Type") {
            let main = SipMsgOps.mediaType(type).0
            let parts = main.split(separator: "/")
            if parts.count != 2 || parts.contains("*") || main.contains(",") { return false }
        }
        return true
    }

    /// The URI of a name-addr (`"Bob" <sip:b@x>;tag=1`) or addr-spec (`sip:b@x;tag=1`) header value.
    static func addrSpec(_ value: String) -> String {
        if let lt = value.firstIndex(of: "<"), let gt = value[lt...].firstIndex(of: ">") {
            return String(value[value.index(after: lt)..<gt])
        }
        let t = value.trimmingSpaces()
        return String(t.split(separator: ";", maxSplits: 1).first ?? "")
    }

    static func splitOutsideBrackets(_ value: String) -> [String] {
        var out: [String] = [], cur = "", depth = 0, quoted = false
        for c in value {
            if c == "\"" { quoted.toggle() }
            if !quoted && c == "<" { depth += 1 }
            if !quoted && c == ">" { depth -= 1 }
            if c == "," && depth == 0 && !quoted { out.append(cur); cur = "" } else { cur.append(c) }
        }
        if !cur.trimmingSpaces().isEmpty { out.append(cur) }
        return out.map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
    }

    /// Scheme, user and host of a sip/sips/tel/tels URI; nil when it is none of those.
    static func uriParts(_ uri: String) -> (user: String, host: String, isTel: Bool)? {
        guard let colon = uri.firstIndex(of: ":") else { return nil }
        let scheme = uri[..<colon].lowercased()
        let rest = uri[uri.index(after: colon)...]
        if scheme == "tel" || scheme == "tels" {
            let number = rest.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return number.isEmpty ? nil : (String(number), "", true)
        }
        guard scheme == "sip" || scheme == "sips" else { return nil }
        var user = "", hostPart = Substring(rest)
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            if let c = user.firstIndex(of: ":") { user = String(user[..<c]) }  // user:password
            hostPart = rest[rest.index(after: at)...]
        }
        if let end = hostPart.firstIndex(where: { $0 == ";" || $0 == "?" }) { hostPart = hostPart[..<end] }
        var host = String(hostPart)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = String(host[...close]) }
        } else if let c = host.lastIndex(of: ":") {
            guard Int(host[host.index(after: c)...]) != nil else { return nil }
            host = String(host[..<c])
        }
        return host.isEmpty ? nil : (user, host, false)
    }

    /// OpenSIPS's check_hostname: starts alphanumeric (or `[`), then alphanumerics, `-`, `:` and single `.`, ends
    /// alphanumeric, `.` or `]`.
    static func validHostname(_ host: String) -> Bool {
        let b = Array(host.utf8)
        guard let first = b.first else { return false }
        func alnum(_ c: UInt8) -> Bool { (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) }
        guard alnum(first) || first == UInt8(ascii: "[") else { return false }
        if b.count > 2 {
            for i in 1..<(b.count - 1) {
                let c = b[i]
                if alnum(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ":") { continue }
                guard c == UInt8(ascii: "."), b[i - 1] != UInt8(ascii: ".") else { return false }
            }
        }
        let last = b[b.count - 1]
        return alnum(last) || last == UInt8(ascii: ".") || last == UInt8(ascii: "]")
    }

    /// RFC 3261 user: unreserved, escaped (%HH) and user-unreserved characters; empty is valid.
    static func validUsername(_ user: String) -> Bool {
        let b = Array(user.utf8)
        var i = 0
        func hex(_ c: UInt8) -> Bool { (48...57).contains(c) || (65...70).contains(c) || (97...102).contains(c) }
        while i < b.count {
            let c = b[i]
            if (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || "-_.!~*'()&=+$,;?/".utf8.contains(c) {
                i += 1
            } else if c == UInt8(ascii: "%"), i + 2 < b.count, hex(b[i + 1]), hex(b[i + 2]) {
                i += 3
            } else {
                return false
            }
        }
        return true
    }

    /// An SDP body parses: lines `x=value` with a one-letter type, the first one `v=`.
    static func sdpParses(_ body: String) -> Bool {
        let lines = body.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" })
        guard let first = lines.first, first.hasPrefix("v=") else { return false }
        for l in lines {
            let u = Array(l.utf8)
            guard u.count >= 2, u[1] == UInt8(ascii: "="), (97...122).contains(u[0]) || (65...90).contains(u[0]) else { return false }
        }
        return true
    }
}

/// Max-Forwards as OpenSIPS reads it (str2s: up to 5 digits, spaces around).
enum MaxForwardsText {
    static func value(_ text: String) -> Int? {
        let t = text.trimmingSpaces()
        guard !t.isEmpty, t.count <= 5, t.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int(t)
    }
}
