import SwitchyardSIP

/// The digest credentials of a request, as OpenSIPS's core reads them for `$au $ad $aU $ar $adu $an $auth.*`:
/// from the first Proxy-Authorization header, else the first Authorization header. Null on a reply, an ACK or a
/// CANCEL, without such a header, or when it is not a Digest credential; a field that is absent or empty is null
/// (pv_get_authattr).
struct DigestCredentials {
    var params: [String: String] = [:]

    /// `Digest name=value, name="quoted value", ...`; parameter names are case-insensitive.
    init?(_ header: String) {
        var b = Array(header.utf8)[...]
        func skipBlanks() { while let c = b.first, c == 32 || c == 9 || c == 13 || c == 10 { b.removeFirst() } }
        skipBlanks()
        let scheme = Array("digest".utf8)
        guard b.count > scheme.count, zip(b.prefix(scheme.count), scheme).allSatisfy({ ($0 | 0x20) == $1 }),
              b[b.startIndex + scheme.count] == 32 || b[b.startIndex + scheme.count] == 9 else { return nil }
        b.removeFirst(scheme.count)
        while true {
            skipBlanks()
            guard !b.isEmpty else { break }
            var name: [UInt8] = []
            while let c = b.first, c != 61, c != 44, c != 32, c != 9 { name.append(c | (c >= 65 && c <= 90 ? 0x20 : 0)); b.removeFirst() }
            skipBlanks()
            var value: [UInt8] = []
            if b.first == 61 {
                b.removeFirst()
                skipBlanks()
                if b.first == 34 {
                    b.removeFirst()
                    // A backslash pair is kept as written (OpenSIPS's digest parser does not unescape), but an escaped
                    // quote does not end the value.
                    while let c = b.first, c != 34 {
                        if c == 92, b.count > 1 { value.append(b.removeFirst()) }
                        value.append(b.removeFirst())
                    }
                    guard b.first == 34 else { return nil }  // unterminated quoted value
                    b.removeFirst()
                } else {
                    while let c = b.first, c != 44, c != 32, c != 9 { value.append(c); b.removeFirst() }
                }
            }
            skipBlanks()
            if b.first == 44 { b.removeFirst() } else if !b.isEmpty { return nil }
            if !name.isEmpty { params[String(decoding: name, as: UTF8.self)] = String(decoding: value, as: UTF8.self) }
        }
    }

    static func of(_ m: SIPMessage) -> DigestCredentials? {
        guard m.isRequest, let method = m.method, method != "ACK", method != "CANCEL" else { return nil }
        guard let h = m.header("Proxy-Authorization") ?? m.header("Authorization") else { return nil }
        return DigestCredentials(h)
    }
}

enum AuthPVs {
    static func classes() -> [PVClass] {
        // Every field reads as null when it is empty, as pv_get_authattr ends.
        func pv(_ name: String, _ part: @escaping @Sendable (DigestCredentials) -> String?) -> PVClass {
            PVClass(name: name, needsInner: false) { _, _ in
                ComputedPV { ctx in
                    guard let m = ctx.message.sip, let c = DigestCredentials.of(m), let s = part(c), !s.isEmpty else { return .null }
                    return .str(s)
                }
            }
        }
        // The username splits at its first '@' into user ($au) and domain ($ad, empty without one).
        @Sendable func user(_ c: DigestCredentials) -> (String, String) {
            let u = c.params["username"] ?? ""
            guard let at = u.firstIndex(of: "@") else { return (u, "") }
            return (String(u[..<at]), String(u[u.index(after: at)...]))
        }
        return [
            pv("au") { user($0).0 },
            pv("ad") { user($0).1 },
            pv("aU") { $0.params["username"] },
            pv("ar") { $0.params["realm"] },
            pv("adu") { $0.params["uri"] },
            pv("an") { $0.params["nonce"] },
            pv("auth.nonce") { $0.params["nonce"] },
            pv("auth.resp") { $0.params["response"] },
            pv("auth.cnonce") { $0.params["cnonce"] },
            pv("auth.opaque") { $0.params["opaque"] },
            pv("auth.alg") { $0.params["algorithm"] },
            pv("auth.qop") { $0.params["qop"] },
            pv("auth.nc") { $0.params["nc"] },
            accountingUser,
        ]
    }

    /// `$Au`: the user to account a request to. OpenSIPS takes `user@realm` of credentials an auth module has
    /// authorized; no module here marks credentials authorized, so it is always From's `user@host` ("" for a From
    /// with an empty URI, null without a From or with a URI that does not parse).
    static let accountingUser = PVClass(name: "Au", needsInner: false) { _, _ in
        ComputedPV { ctx in
            guard let m = ctx.message.sip, let f = m.fromURI else { return .null }
            if f.isEmpty { return .str("") }
            guard let u = SIPURI(f) else { return .null }
            return .str(u.user + "@" + u.host)
        }
    }
}
