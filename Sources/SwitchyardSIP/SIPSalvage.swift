extension SIPMessage {
    /// What is left of a request that `parse` rejected, for the script's `error_route` (OpenSIPS runs it on the
    /// partly parsed message when the request line was read): the request line, then the header lines up to the
    /// first one that is not `name: value` or that starts at `cut` (the bad header's offset from `SIPParseError`:
    /// OpenSIPS's header list ends before the header it failed on), nothing checked inside them; the rest of the
    /// buffer is the body. nil when the first line is not a request line (OpenSIPS runs no error_route then).
    public static func salvageRequest(_ bytes: [UInt8], cut: Int? = nil) -> SIPMessage? {
        let cut = cut ?? Int.max
        return bytes.withUnsafeBufferPointer { b -> SIPMessage? in
            var i = 0
            while i < b.count, b[i] == Byte.cr || b[i] == Byte.lf { i += 1 }
            guard let (firstEnd, afterFirst) = SIPParser.lineEnd(b, from: i) else { return nil }
            var j = i
            while j < firstEnd, Byte.isToken(b[j]) { j += 1 }
            guard j > i, j < firstEnd, b[j] == Byte.sp else { return nil }
            let methodRange = i..<j
            let uStart = j + 1
            var k = uStart
            while k < firstEnd, b[k] != Byte.sp, b[k] != Byte.ht { k += 1 }
            guard k > uStart, k < firstEnd else { return nil }
            let uriRange = uStart..<k
            let versionRange = (k + 1)..<firstEnd
            guard versionRange.count >= 4, Byte.equalsIgnoringCase(b, versionRange.lowerBound..<(versionRange.lowerBound + 4), "SIP/") else {
                return nil
            }
            var fields: [HeaderField] = []
            var at = afterFirst
            var headersEnd = b.count
            while at < b.count, let (end, next) = SIPParser.lineEnd(b, from: at) {
                if end == at { headersEnd = next; break }
                if at >= cut { headersEnd = at; break }
                var n = at
                while n < end, Byte.isToken(b[n]) { n += 1 }
                let nameRange = at..<n
                while n < end, Byte.isWS(b[n]) { n += 1 }
                guard !nameRange.isEmpty, n < end, b[n] == Byte.colon else { headersEnd = at; break }
                var lineNext = next, valueEnd = end
                while lineNext < b.count, Byte.isWS(b[lineNext]), let (e2, n2) = SIPParser.lineEnd(b, from: lineNext) {
                    valueEnd = e2
                    lineNext = n2
                }
                fields.append(HeaderField(kind: HeaderKind.classify(b, nameRange), name: nameRange,
                                          value: Byte.trim(b, (n + 1)..<valueEnd), line: at..<lineNext))
                at = lineNext
            }
            return SIPMessage(bytes: bytes, isRequest: true, methodRange: methodRange, uriRange: uriRange,
                              versionRange: versionRange, statusCode: nil, reasonRange: 0..<0, headersStart: afterFirst,
                              headersEnd: max(headersEnd, afterFirst), fields: fields, bodyRange: max(headersEnd, afterFirst)..<b.count)
        }
    }
}
