// is_method and has_totag: tests of the request line (or a reply's CSeq) and of the To tag.
import SwitchyardPluginKit

extension SipMsgOps {
    /// 1 when the request's method (a reply's CSeq method) is one of the names, -1 otherwise.
    func isMethod(_ call: FunctionCall) -> Int32 {
        let found = withInfo(call.context) { i in
            let method = i.is_request != 0 ? i.method.bytes : i.cseq_method.bytes
            return !method.isEmpty && call.withBytes(0) { SipMsgOps.listContains($0, method) }
        }
        return found == true ? 1 : -1
    }

    /// True when one of the names in `list` ("INVITE", "INVITE,BYE", OpenSIPS 1.x's "INVITE|BYE") equals `method`,
    /// ASCII case-insensitively. OpenSIPS compares known methods by id and others by name, which comes to the same.
    static func listContains(_ list: UnsafeRawBufferPointer, _ method: UnsafeRawBufferPointer) -> Bool {
        var start = 0
        while start <= list.count {
            var end = start
            while end < list.count, list[end] != UInt8(ascii: ","), list[end] != UInt8(ascii: "|") { end += 1 }
            var lo = start, hi = end
            while lo < hi, list[lo] == 32 || list[lo] == 9 { lo += 1 }
            while hi > lo, list[hi - 1] == 32 || list[hi - 1] == 9 { hi -= 1 }
            if hi - lo == method.count {
                var same = true
                for k in 0..<method.count where Text.lower(list[lo + k]) != Text.lower(method[k]) { same = false; break }
                if same { return true }
            }
            start = end + 1
        }
        return false
    }

    /// 1 when the To header has a tag (an in-dialog request, or any reply past 100), -1 otherwise.
    func hasToTag(_ call: FunctionCall) -> Int32 {
        withInfo(call.context) { $0.to_tag.len > 0 } == true ? 1 : -1
    }
}

/// Byte helpers shared by the functions.
enum Text {
    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }

    /// ASCII case-insensitive equality.
    static func equalFold(_ a: Substring, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { lower($0) == lower($1) }
    }

    static func trim(_ s: Substring) -> Substring {
        var t = s
        while let f = t.first, f == " " || f == "\t" { t.removeFirst() }
        while let l = t.last, l == " " || l == "\t" { t.removeLast() }
        return t
    }

    /// Splits a text of header lines ("A: 1\r\nB: 2\r\n") into lines without their line ends; empty ones dropped.
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
    }
}
