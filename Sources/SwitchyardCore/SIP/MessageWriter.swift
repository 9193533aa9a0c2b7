import SwitchyardSIP

/// Builds the bytes the core sends: a request forwarded with our Via on top and the script's header
/// changes, a reply relayed without our Via, a stateless reply made from a request.
enum MessageWriter {
    /// The received top Via rewritten with `received=` / `rport=` as OpenSIPS writes them, or nil when it needs no
    /// change (the common case: no rport, no received, the sender's own address there — decided without a string made).
    /// `received=` is set when the source address differs from the Via host, when the Via has a received already, and
    /// whenever rport applies (the Via's `rport`, or force_rport()). A forwarded request (build_req_buf_from_sip_req)
    /// gets the new parameters right after `host:port`, rport ahead of received (`;rport=P;received=IP`); a Via
    /// `received` is replaced where it stands, a Via `rport` gets its value where it stands. A local reply
    /// (`reply`, build_res_buf_from_sip_req) gets `;received=IP` right after `host:port`, then `;rport=P` unless the Via
    /// has an rport of its own, which gets the value in place; a received the Via had stays.
    static func viaWithSource(_ msg: SIPMessage, _ via: SIPVia, _ source: SocketAddress, forceRport: Bool = false,
                              reply: Bool = false) -> String? {
        let rport = via.hasRport || forceRport
        var hadReceived = false
        if case .some = via.param("received") { hadReceived = true }  // a bit test: nothing made when absent
        let needReceived: Bool
        if rport || hadReceived {
            needReceived = true
        } else if let mine = source.ipv4, let v4 = msg.ipv4(via.hostRange) {
            needReceived = v4 != mine  // a dotted quad compared as a number: no text made (what hasIP decides)
        } else {
            needReceived = !source.hasIP(via.host)
        }
        guard needReceived else { return nil }
        // sent-protocol and sent-by as written, then the parameters.
        let value = msg.bytes[via.range]
        var semi = value.firstIndex(of: UInt8(ascii: ";")) ?? value.endIndex
        if let paren = value.firstIndex(of: UInt8(ascii: "(")), paren < semi { semi = paren }  // drop a trailing comment
        var out = String(decoding: msg.bytes[via.range.lowerBound..<semi], as: UTF8.self)
        while out.last == " " || out.last == "\t" { out.removeLast() }
        let received = ";received=\(source.ip)"
        let newRport = ";rport=\(source.port)"
        // At the place received goes in a forwarded request: the forced rport first (both inserted after the same
        // point, the later one ahead), then received.
        let atReceived = (!reply && rport && !via.hasRport ? newRport : "") + received
        if reply {
            out += received
            if rport && !via.hasRport { out += newRport }
        } else if !hadReceived {
            out += atReceived
        }
        var receivedDone = reply, rportDone = false
        for p in via.params {
            let n = p.name.lowercased()
            if n == "received", !receivedDone {
                receivedDone = true
                out += atReceived
                continue
            }
            if n == "rport", !rportDone {
                rportDone = true
                out += newRport
                continue
            }
            out += ";" + p.name
            if let v = p.value { out += "=" + v }
        }
        return out
    }

    /// The branch of our Via: given as text (tm's), or the stateless hash written in hex after "z9hG4bKsy".
    enum Branch {
        case text(String)
        case stateless(UInt64)

        func append(to out: inout ByteWriter) {
            switch self {
            case .text(let t): out.append(text: t)
            case .stateless(let h):
                out.append(literal: "z9hG4bKsy")
                // Lower-case hex without leading zeros, as String(h, radix: 16) writes it: the 16 digits made eight
                // at a time, the significant ones appended in one copy.
                var digits = (Branch.hexDigits(UInt32(truncatingIfNeeded: h >> 32)).littleEndian,
                              Branch.hexDigits(UInt32(truncatingIfNeeded: h)).littleEndian)
                let n = h == 0 ? 1 : (67 - h.leadingZeroBitCount) / 4
                withUnsafeBytes(of: &digits) { d in out.append(raw: UnsafeRawBufferPointer(rebasing: d[(16 - n)...])) }
            }
        }

        /// The eight lower-case hex digits of `x`, most significant first in memory (the first byte of the word).
        @inline(__always) static func hexDigits(_ x: UInt32) -> UInt64 {
            // Nibble k of x into byte k, then reversed so the most significant digit comes first.
            var v = UInt64(x)
            v = (v | v << 16) & 0x0000_FFFF_0000_FFFF
            v = (v | v << 8) & 0x00FF_00FF_00FF_00FF
            v = (v | v << 4) & 0x0F0F_0F0F_0F0F_0F0F
            v = v.byteSwapped
            // '0' + d, and 'a' - '0' - 10 (0x27) more where d > 9 (d + 6 carries into bit 4 exactly then).
            let letters = ((v &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
            return v &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
        }
    }

    /// A request as forwarded: new request line if the R-URI changed, our Via (prefix and branch) first, edits applied.
    /// `viaSuffix`: parameters after our branch (add_local_rport's `;rport`). `stream`: sent over a stream transport
    /// (TCP, TLS), which needs a Content-Length the received message may lack. As an array: for tests (production
    /// builds into the thread's output buffer with `forwardedRequest(into:)`).
    static func forwardedRequest(_ msg: SIPMessage, newRURI: String?, viaPrefix: String, branch: Branch, topVia: SIPVia?,
                                 topViaText: String?, edits: HeaderEdits, viaSuffix: String = "", stream: Bool = true) -> [UInt8] {
        ByteWriter.build(capacity: msg.bytes.count + viaPrefix.utf8.count + 96) { out in
            forwardedRequest(into: &out, msg, newRURI: newRURI, viaPrefix: viaPrefix, branch: branch, topVia: topVia,
                             topViaText: topViaText, edits: edits, viaSuffix: viaSuffix, stream: stream)
        }
    }

    /// `forwardedRequest` written into `out` (emptied first), a buffer the caller reuses.
    static func forwardedRequest(into out: inout ByteWriter, _ msg: SIPMessage, newRURI: String?, viaPrefix: String,
                                 branch: Branch, topVia: SIPVia?, topViaText: String?, edits: HeaderEdits,
                                 viaSuffix: String = "", stream: Bool = true) {
        out.removeAll()  // OutputBuffers hands it over empty
        out.reserveCapacity(msg.bytes.count + viaPrefix.utf8.count + 96)
        if let ruri = newRURI {
            out.append(text: msg.method ?? "")
            out.append(32)
            out.append(text: ruri)
            out.append(text: " SIP/2.0\r\n")
        } else {
            msg.bytes.withUnsafeBufferPointer { b in
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[msg.methodRange.lowerBound..<msg.headersStart]))
            }
        }
        // Our Via goes right before the received top Via, after every line the script put there (record_route(),
        // insert_hf()): OpenSIPS anchors it at the top Via when it builds the request, behind the script's lumps.
        let ours = OurVia(prefix: viaPrefix, branch: branch, suffix: viaSuffix)
        msg.bytes.withUnsafeBufferPointer { b in
            appendHeaders(&out, msg, b, edits: edits, topVia: topVia, topViaText: topViaText, dropTopVia: false,
                          stream: stream, ourVia: ours)
        }
    }

    /// The Via a forwarded request gets: `Via: <prefix><branch><suffix>`.
    struct OurVia {
        let prefix: String
        let branch: Branch
        let suffix: String

        func write(to out: inout ByteWriter) {
            out.append(literal: "Via: ")
            out.append(text: prefix)
            branch.append(to: &out)
            if !suffix.isEmpty { out.append(text: suffix) }
            out.appendCRLF()
        }
    }

    /// Header lines with edits, the empty line and the body.
    static func appendHeaders(_ out: inout ByteWriter, _ msg: SIPMessage, edits: HeaderEdits, topVia: SIPVia?, topViaText: String?,
                              dropTopVia: Bool = false, stream: Bool = true) {
        // Copied from the message's buffer through a pointer: an ArraySlice of it would retain and release the buffer
        // for every run of lines.
        msg.bytes.withUnsafeBufferPointer { b in
            appendHeaders(&out, msg, b, edits: edits, topVia: topVia, topViaText: topViaText, dropTopVia: dropTopVia,
                          stream: stream)
        }
    }

    private static func appendHeaders(_ out: inout ByteWriter, _ msg: SIPMessage, _ b: UnsafeBufferPointer<UInt8>,
                                      edits: HeaderEdits, topVia: SIPVia?, topViaText: String?, dropTopVia: Bool,
                                      stream: Bool, ourVia: OurVia? = nil) {
        @inline(__always) func bytes(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[r]) }
        // The top Via is the first Via field; header edits never target Via (the host table refuses them).
        let topViaIndex = msg.fields.firstIndex { $0.kind == .via }
        // Every request has a Via (SIPMessage.parse refuses one without): our Via always goes at the top Via below.
        if edits.onlyInline, let first = msg.fields.first, let last = msg.fields.last {
            // At most one value replaced, nothing else (every relayed reply, most forwarded requests: maxfwd): the
            // runs of lines between the top Via and the replaced field are copied whole, what the loop below copies
            // line by line.
            var special = (topViaIndex ?? -1, edits.inlineReplacedField ?? -1)
            if special.1 == special.0 { special.1 = -1 }  // a Via is never replaced
            if special.1 >= 0, special.0 < 0 || special.1 < special.0 { special = (special.1, special.0) }
            var from = first.line.lowerBound
            for k in 0..<2 {
                let i = k == 0 ? special.0 : special.1
                // An index the message does not have (edits made on another message) is ignored, as the loop below does.
                if i < 0 || i >= msg.fields.count { continue }
                let f = msg.fields[i]
                out.append(contentsOf: bytes(from..<f.line.lowerBound))
                if i == topViaIndex {
                    ourVia?.write(to: &out)
                    appendTopVia(&out, f, b, topVia: topVia, topViaText: topViaText, dropTopVia: dropTopVia)
                } else {
                    appendReplaced(&out, f, b, edits, i)
                }
                from = f.line.upperBound
            }
            out.append(contentsOf: bytes(from..<last.line.upperBound))
            finish(&out, msg, b, stream: stream, body: nil)
            return
        }
        let anchoredLines = edits.anchored
        let anchored = !anchoredLines.isEmpty
        // Without anchored lines the top lines are alone before the first field; with them, see emitBoundary.
        if !anchored { for e in edits.numberedTop { out.append(text: e.line); out.appendCRLF() } }
        // Unchanged lines that follow each other in the received message are copied as one run.
        var run = 0..<0
        func flush(_ out: inout ByteWriter) {
            if !run.isEmpty { out.append(contentsOf: bytes(run)) }
            run = 0..<0
        }
        let fieldCount = msg.fields.count
        let textEdits = edits.textEdits
        let newBody = edits.body
        for (i, f) in msg.fields.enumerated() {
            if anchored { emitBoundary(&out, edits, anchoredLines, at: i, fieldCount: fieldCount, flush: flush) }
            if i == topViaIndex, let ourVia {
                flush(&out)
                ourVia.write(to: &out)
            }
            if edits.isRemoved(i) && i != topViaIndex { flush(&out); continue }
            if let newBody, f.kind == .contentLength {
                flush(&out)
                out.append(contentsOf: bytes(f.name))
                out.append(text: ": \(newBody.count)")
                out.appendCRLF()
                continue
            }
            if i != topViaIndex, edits.isReplaced(i) {
                flush(&out)
                appendReplaced(&out, f, b, edits, i)
                continue
            }
            if i == topViaIndex && topVia != nil && (dropTopVia || topViaText != nil) {
                flush(&out)
                appendTopVia(&out, f, b, topVia: topVia, topViaText: topViaText, dropTopVia: dropTopVia)
                continue
            }
            if !textEdits.isEmpty, appendTextEdited(&out, msg, b, textEdits, i, flush: flush) { continue }
            if run.upperBound == f.line.lowerBound && !run.isEmpty {
                run = run.lowerBound..<f.line.upperBound
            } else {
                flush(&out)
                run = f.line
            }
        }
        flush(&out)
        if anchored {
            emitBoundary(&out, edits, anchoredLines, at: fieldCount, fieldCount: fieldCount, flush: flush)
        } else {
            for e in edits.numberedBottom { out.append(text: e.line); out.appendCRLF() }
        }
        finish(&out, msg, b, stream: stream, body: newBody)
    }

    /// Field i with the received bytes sip_text_replace replaced (a replacement's text goes out with the field its
    /// range starts in; the bytes of a range running into later fields are left out of those); false when no
    /// replacement touches the field.
    private static func appendTextEdited(_ out: inout ByteWriter, _ msg: SIPMessage, _ b: UnsafeBufferPointer<UInt8>,
                                         _ edits: [TextReplacement], _ i: Int, flush: (inout ByteWriter) -> Void) -> Bool {
        let line = msg.fields[i].line
        let isLast = i == msg.fields.count - 1
        // An edit belongs to the field its start lies in (an insertion at the end of the header lines: the last).
        func owns(_ e: TextReplacement) -> Bool {
            line.contains(e.range.lowerBound) || (isLast && e.range.lowerBound == line.upperBound)
        }
        let touching = edits.filter { owns($0) || $0.range.overlaps(line) }
        if touching.isEmpty { return false }
        flush(&out)
        var pos = line.lowerBound
        for e in touching {
            let lo = max(e.range.lowerBound, line.lowerBound)
            if lo > pos { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[pos..<lo])) }
            if owns(e) { e.text.withUnsafeBufferPointer { out.append(contentsOf: $0) } }
            pos = max(pos, min(e.range.upperBound, line.upperBound))
        }
        if pos < line.upperBound { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[pos..<line.upperBound])) }
        return true
    }

    /// A field with the value the script set: its name as received, then the new value.
    private static func appendReplaced(_ out: inout ByteWriter, _ f: HeaderField, _ b: UnsafeBufferPointer<UInt8>,
                                       _ edits: HeaderEdits, _ i: Int) {
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[f.name]))
        out.append(58)
        out.append(32)
        edits.withReplaced(i) { out.append(raw: $0) }
        out.appendCRLF()
    }

    /// The top Via's field as sent: without its first value (a relayed reply), with the value rewritten (received=,
    /// rport=), or as received.
    private static func appendTopVia(_ out: inout ByteWriter, _ f: HeaderField, _ b: UnsafeBufferPointer<UInt8>, topVia: SIPVia?,
                                     topViaText: String?, dropTopVia: Bool) {
        @inline(__always) func bytes(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[r]) }
        if let via = topVia, dropTopVia {
            if via.isLastInField { return }
            // Keep the other values of the field: everything after the first comma.
            var j = via.range.upperBound
            while j < f.value.upperBound, b[j] != UInt8(ascii: ",") { j += 1 }
            j += 1
            while j < f.value.upperBound, b[j] == 32 || b[j] == 9 || b[j] == 13 || b[j] == 10 { j += 1 }
            out.append(contentsOf: bytes(f.name))
            out.append(text: ": ")
            out.append(contentsOf: bytes(j..<f.value.upperBound))
            out.appendCRLF()
        } else if let via = topVia, let text = topViaText {
            out.append(contentsOf: bytes(f.line.lowerBound..<via.range.lowerBound))
            out.append(text: text)
            out.append(contentsOf: bytes(via.range.upperBound..<f.line.upperBound))
        } else {
            out.append(contentsOf: bytes(f.line))
        }
    }

    /// Content-Length when the message had none and goes over a stream (or got a new body), the empty line and the
    /// body (`body`: the one sip_body_set gave, whose length the loop wrote into a received Content-Length).
    private static func finish(_ out: inout ByteWriter, _ msg: SIPMessage, _ b: UnsafeBufferPointer<UInt8>, stream: Bool,
                               body: [UInt8]?) {
        if let body {
            if msg.field(.contentLength) == nil { out.append(text: "Content-Length: \(body.count)\r\n") }
            out.appendCRLF()
            body.withUnsafeBufferPointer { out.append(contentsOf: $0) }
            return
        }
        // As OpenSIPS's adjust_clen: a datagram may go on without one, as it came; a stream hop needs it. One the script
        // removed is not put back (the received message had one).
        if stream, msg.field(.contentLength) == nil { out.append(text: "Content-Length: \(msg.bodyRange.count)\r\n") }
        out.appendCRLF()
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[msg.bodyRange]))
    }

    /// The lines added at the place before field k (k == fieldCount: after the last field): the top lines (k = 0),
    /// those anchored after field k - 1 and before field k, the bottom lines (k = fieldCount), in the order of the
    /// calls that added them. OpenSIPS anchors all of these at one offset of the received message, and its lumps at
    /// one offset keep the order they were made in (`insert_hf("X: 1\r\n", "Via"); record_route();` on a request
    /// whose Via is its first header sends X, then Record-Route). Our Via, when it goes at field k, follows them all.
    private static func emitBoundary(_ out: inout ByteWriter, _ edits: HeaderEdits, _ lines: [AnchoredLine], at k: Int,
                                     fieldCount: Int, flush: (inout ByteWriter) -> Void) {
        // Most places have nothing: found without building anything.
        @inline(__always) func at(_ a: AnchoredLine) -> Bool { (a.after && a.field == k - 1) || (!a.after && a.field == k) }
        if k != 0 && k != fieldCount && !lines.contains(where: at) { return }
        var here: [(seq: Int, line: String)] = []
        if k == 0 { here += edits.numberedTop }
        for a in lines where at(a) { here.append((a.seq, a.line)) }
        if k == fieldCount { here += edits.numberedBottom }
        guard !here.isEmpty else { return }
        flush(&out)
        for e in here.sorted(by: { $0.seq < $1.seq }) {
            out.append(text: e.line)
            out.appendCRLF()
        }
    }

    /// A reply relayed upstream: the same message without its top Via value. `stream`: the next hop is a stream (OpenSIPS
    /// goes by the second Via's transport). As an array: for tests (production uses `relayedReply(into:)`).
    static func relayedReply(_ msg: SIPMessage, topVia: SIPVia, edits: HeaderEdits, stream: Bool) -> [UInt8] {
        ByteWriter.build(capacity: msg.bytes.count) { out in
            relayedReply(into: &out, msg, topVia: topVia, edits: edits, stream: stream)
        }
    }

    /// `relayedReply` written into `out` (emptied first), a buffer the caller reuses.
    static func relayedReply(into out: inout ByteWriter, _ msg: SIPMessage, topVia: SIPVia, edits: HeaderEdits, stream: Bool) {
        out.removeAll()
        out.reserveCapacity(msg.bytes.count)
        if let status = edits.statusLine {
            // change_reply_status (ABI 1.16 sip_status_set).
            out.append(text: status)
            out.appendCRLF()
        } else {
            msg.bytes.withUnsafeBufferPointer { b in
                var start = 0
                while start < msg.headersStart, b[start] == 13 || b[start] == 10 { start += 1 }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<msg.headersStart]))
            }
        }
        appendHeaders(&out, msg, edits: edits, topVia: topVia, topViaText: nil, dropTopVia: true, stream: stream)
    }

    /// A stateless reply to a request (sl_send_reply, 400s, 483s, tm's local replies and 100 Trying), written into
    /// `out` (emptied first), a buffer the caller reuses: the header lines it keeps are copied as byte ranges of the
    /// request.
    static func statelessReply(into out: inout ByteWriter, to msg: SIPMessage, code: Int, reason: String, topVia: SIPVia?,
                               topViaText: String?, toTag: String?, extraHeaders: String, server: String?) {
        out.removeAll()
        out.reserveCapacity(512)
        // The status line without string interpolation (four String appends and a description per reply).
        out.append(literal: "SIP/2.0 ")
        if (100...999).contains(code) {
            out.append(UInt8(48 + code / 100))
            out.append(UInt8(48 + code / 10 % 10))
            out.append(UInt8(48 + code % 10))
        } else {
            out.append(text: String(code))
        }
        out.append(32)
        out.append(text: reason)
        out.appendCRLF()
        msg.bytes.withUnsafeBufferPointer { b in
            // The ranges come from this message's own parse (rebasing is bounds-checked only in debug builds).
            func copy(_ r: Range<Int>) {
                assert(r.lowerBound >= 0 && r.upperBound <= b.count)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[r]))
            }
            var seenVia = false
            for f in msg.fields {
                switch f.kind {
                case .via:
                    if !seenVia, let via = topVia, let text = topViaText {
                        copy(f.line.lowerBound..<via.range.lowerBound)
                        out.append(text: text)
                        copy(via.range.upperBound..<f.line.upperBound)
                    } else {
                        copy(f.line)
                    }
                    seenVia = true
                case .to:
                    if let tag = toTag {
                        copy(f.line.lowerBound..<f.value.upperBound)
                        out.append(literal: ";tag=")
                        out.append(text: tag)
                        out.appendCRLF()
                    } else {
                        copy(f.line)
                    }
                case .from, .callID, .cseq:
                    copy(f.line)
                case .recordRoute where (180..<300).contains(code):
                    copy(f.line)  // the dialog's route set, as OpenSIPS does
                default:
                    break
                }
            }
        }
        out.append(text: extraHeaders)
        if let server { out.append(text: server); out.appendCRLF() }
        out.append(literal: "Content-Length: 0\r\n\r\n")
    }
}
