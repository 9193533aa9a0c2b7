// libFuzzer entry point for the SwitchyardSIP message parser. Built together with the parser sources
// (see Fuzz/run.sh), so it is one module with them: no `import SwitchyardSIP`.
//
// What it checks: parse() must never trap, leak into ASan errors, or hang on any input; when it
// succeeds every accessor must be callable; and a few invariants that hold for any parse result.

private let probeNames = [
    "Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq", "Contact", "m", "Content-Length", "l",
    "Content-Type", "c", "Supported", "k", "Subject", "s", "Content-Encoding", "e", "Event", "o",
    "Route", "Record-Route", "Max-Forwards", "Expires", "Require", "User-Agent", "X-Unknown", "", ":",
]

@inline(never)
private func fail(_ what: String) -> Never {
    fatalError("SIP parser invariant violated: \(what)")
}

/// salvageRequest never traps; what it returns is a request whose fields lie inside the input, before `cut`.
private func checkSalvage(_ bytes: [UInt8], cut: Int?) {
    guard let s = SIPMessage.salvageRequest(bytes, cut: cut) else { return }
    if !s.isRequest || s.method == nil || s.requestURIText == nil { fail("salvaged message is not a request") }
    for f in s.fields {
        if f.line.upperBound > bytes.count || f.value.upperBound > f.line.upperBound || f.name.lowerBound != f.line.lowerBound {
            fail("salvaged field outside its line or the input")
        }
        if let c = cut, f.line.lowerBound >= c { fail("salvaged field at or after the cut") }
    }
    if s.body.count > bytes.count { fail("salvaged body longer than the input") }
    _ = s.callID; _ = s.cseqMethod; _ = s.fromTag
    for name in probeNames { _ = s.header(name); _ = s.headers(name) }
    _ = try? s.vias()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let m: SIPMessage
    do {
        m = try SIPMessage.parse(bytes)
    } catch {
        // What error_route sees of a request that did not parse: whole, and cut where the parser says it failed.
        checkSalvage(bytes, cut: nil)
        if let at = error.offset {
            if !(0...size).contains(at) { fail("parse error offset \(at) outside the input") }
            checkSalvage(bytes, cut: at)
        }
        return 0
    }
    do { _ = try m.vias() } catch { if let at = error.offset { checkSalvage(bytes, cut: at) } }

    // First line.
    if m.isRequest {
        guard let method = m.method, !method.isEmpty else { fail("request without a method") }
        guard m.requestURIText != nil else { fail("request without a request-URI") }
        if m.statusCode != nil || m.reason != nil { fail("request with a status code or reason") }
    } else {
        guard let code = m.statusCode else { fail("reply without a status code") }
        if !(100...699).contains(code) { fail("status code \(code) out of range") }
        if m.method != nil || m.requestURIText != nil { fail("reply with a method or request-URI") }
        _ = m.reason
    }

    // Body: never longer than the input.
    let body = m.body
    if body.count > size { fail("body longer than the input") }

    // Common headers.
    _ = m.callID
    if let n = m.cseqNumber, n < 0 { fail("negative CSeq number") }
    _ = m.cseqMethod
    _ = m.fromURI; _ = m.toURI; _ = m.fromTag; _ = m.toTag

    // Generic header access, including names built from the input itself.
    for name in probeNames {
        let first = m.header(name)
        let all = m.headers(name)
        if (first == nil) != all.isEmpty { fail("header(\(name)) and headers(\(name)) disagree") }
        if let f = first, f != all[0] { fail("header(\(name)) is not headers(\(name))[0]") }
    }
    if size > 0 {
        let k = Int(bytes[0]) % 24
        let name = String(decoding: bytes.prefix(1 + k), as: UTF8.self)
        _ = m.header(name); _ = m.headers(name)
    }

    // Via, parsed lazily; may throw but must not trap. Asking twice gives the same answer.
    let v1 = try? m.topVia()
    let v2 = try? m.topVia()
    let a = v1 ?? nil, b = v2 ?? nil
    if (a == nil) != (b == nil) || a?.host != b?.host || a?.port != b?.port || a?.branch != b?.branch {
        fail("topVia() not stable")
    }
    if let via = v1 ?? nil {
        _ = (via.transport, via.host, via.port, via.branch, via.params.count)
        if let p = via.port, !(0...65535).contains(p) { fail("Via port \(p) out of range") }
    }
    if let all = try? m.vias() {
        for via in all {
            _ = (via.transport, via.host, via.port, via.branch, via.received, via.rport)
            // branch, received= and rport are kept while the Via is parsed: the same as the first of each name in
            // the whole parameter list, which is read again from the bytes.
            let listed = via.params
            func first(_ n: String) -> String?? { listed.first { $0.name.lowercased() == n }.map { $0.value } }
            if first("branch") != via.param("branch") || first("received") != via.param("received")
                || first("rport") != via.rport || via.hasRport != (first("rport") != nil) {
                fail("Via parameters kept at parse time differ from the parameter list")
            }
        }
    }
    return 0
}
