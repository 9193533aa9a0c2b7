// append_time(): a Date header with the current time (RFC 1123 form, GMT) for the replies the proxy sends to the
// request, as OpenSIPS (a reply lump, like append_to_reply).
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardPluginKit

extension SipMsgOps {
    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// "Date: Mon, 07 Dec 2026 18:20:01 GMT" for `t` (seconds since the epoch); English names whatever the locale,
    /// as OpenSIPS's strftime in the C locale.
    static func dateHeader(_ t: time_t) -> String? {
        var now = t
        var tm = Glibc.tm()
        guard gmtime_r(&now, &tm) != nil else { return nil }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "Date: \(weekdays[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) "
            + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }

    /// 1 kept for the replies, -1 on error (no request).
    func appendTime(_ call: FunctionCall) -> Int32 {
        guard let line = SipMsgOps.dateHeader(time(nil)) else {
            host.log(.err, "append_time: gmtime failed")
            return -1
        }
        guard host.sipReplyHeaderAdd(call.context, line) else {
            host.log(.err, "append_time: unable to add lump (no request)")
            return -1
        }
        return 1
    }
}
