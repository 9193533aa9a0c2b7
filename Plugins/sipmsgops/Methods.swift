// is_method and has_totag: tests of the request line (or a reply's CSeq) and of the To tag.
import SwitchyardPluginKit

extension SipMsgOps {
    /// 1 when the request's method (a reply's CSeq method) is in the list, -1 otherwise. As OpenSIPS: a list naming
    /// at least one standard method is a set of methods where every non-standard name stands for "any non-standard
    /// method" ("INVITE,FOO" matches BAR); otherwise the whole argument is compared by name ("FOO" matches FOO,
    /// "FOO,BAR" matches nothing).
    func isMethod(_ call: FunctionCall) -> Int32 {
        let found = withInfo(call.context) { i in
            let method = i.is_request != 0 ? i.method.bytes : i.cseq_method.bytes
            return !method.isEmpty && call.withBytes(0) { SipMsgOps.methodMatches($0, method) }
        }
        return found == true ? 1 : -1
    }

    /// The methods OpenSIPS knows by id; any other name is "other".
    static let knownMethods = ["ack", "bye", "cancel", "info", "invite", "message", "notify", "options", "prack",
                               "publish", "refer", "register", "subscribe", "update"].map { Array($0.utf8) }
    static let otherMethod = knownMethods.count

    /// The id of a method name: its index in knownMethods (ASCII case-insensitive), or otherMethod.
    static func methodID(_ name: some Collection<UInt8>) -> Int {
        knownMethods.firstIndex { $0.count == name.count && zip($0, name).allSatisfy { $0 == Text.lower($1) } } ?? otherMethod
    }

    /// OpenSIPS's is_method test of `method` against the list ("INVITE", "INVITE,BYE", OpenSIPS 1.x's "INVITE|BYE").
    static func methodMatches(_ list: UnsafeRawBufferPointer, _ method: UnsafeRawBufferPointer) -> Bool {
        var ids = Set<Int>()
        var start = 0
        while start <= list.count {
            var end = start
            while end < list.count, list[end] != UInt8(ascii: ","), list[end] != UInt8(ascii: "|") { end += 1 }
            var lo = start, hi = end
            while lo < hi, list[lo] == 32 || list[lo] == 9 { lo += 1 }
            while hi > lo, list[hi - 1] == 32 || list[hi - 1] == 9 { hi -= 1 }
            if hi > lo { ids.insert(methodID(list[lo..<hi])) }
            start = end + 1
        }
        if ids.contains(where: { $0 != otherMethod }) { return ids.contains(methodID(method)) }
        // Only non-standard names: the whole argument against the method's name.
        guard list.count == method.count else { return false }
        return zip(list, method).allSatisfy { Text.lower($0) == Text.lower($1) }
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
