// The Contact header OpenSIPS puts into a 3xx reply the proxy sends itself: the destination set (a request-URI the
// script changed, then the branches of append_branch), each `<uri>` with `;q=` when it has a q value.
import SwitchyardABI

extension PluginHost {
    /// "Contact: <sip:a@x>;q=0.5, <sip:b@y>\r\n", or "" when the script neither changed the request-URI nor appended
    /// a branch. (The context's thread.)
    public func redirectContact(_ ctx: SYContext) -> String {
        var items: [String] = []
        if let ru = try? varParse("$ru"), let ou = try? varParse("$ou"),
           case .some(.string(let now)) = varGet(ctx, ru), case .some(.string(let was)) = varGet(ctx, ou), now != was {
            items.append("<\(now)>" + PluginHost.qParam(branchQ(ctx, -1)))
        }
        if provides(\.sip_branch_get), let get = raw.pointee.sip_branch_get {
            var i: UInt32 = 0
            while true {
                var u = sy_str(), d = sy_str()
                guard get(ctx.raw, i, &u, &d) == 0 else { break }
                items.append("<\(u.string)>" + PluginHost.qParam(branchQ(ctx, Int64(i))))
                i += 1
            }
        }
        return items.isEmpty ? "" : "Contact: " + items.joined(separator: ", ") + "\r\n"
    }

    /// The q value (thousandths) of a branch (-1: the request-URI's); -1 when none was given.
    func branchQ(_ ctx: SYContext, _ index: Int64) -> Int32 {
        guard provides(\.sip_branch_attrs), let f = raw.pointee.sip_branch_attrs else { return -1 }
        var q: Int32 = -1
        guard f(ctx.raw, index, &q, nil) == 0 else { return -1 }
        return q
    }

    /// ";q=0.5" for 500, ";q=1" for 1000, "" when unspecified (OpenSIPS's q2str: no trailing zeros).
    static func qParam(_ q: Int32) -> String {
        guard q >= 0 else { return "" }
        if q >= 1000 { return ";q=1" }
        var frac = String(q)
        while frac.count < 3 { frac = "0" + frac }
        while frac.hasSuffix("0") { frac.removeLast() }
        return frac.isEmpty ? ";q=0" : ";q=0." + frac
    }
}
