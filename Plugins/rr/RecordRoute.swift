// record_route, record_route_preset, add_rr_param: the Record-Route header, as OpenSIPS builds it:
// `<sip:[user@]HOST:PORT[;transport=..];lr[;ftag=TAG][params][add_rr_param params]>` for record_route and
// `<sip:[user@]TEXT[;ftag=TAG];lr[add_rr_param params]>` for record_route_preset.
import SwitchyardPluginKit

extension RRModule {
    /// The `[user@]` part (add_username): the user of the request-URI as received, else of the current one.
    func userPart(_ ctx: SYContext, _ v: RRVars) -> String {
        guard addUsername.load(ordering: .relaxed) else { return "" }
        let user = host.varString(ctx, v.origUser).flatMap { $0.isEmpty ? nil : $0 } ?? host.varString(ctx, v.ruriUser) ?? ""
        return user.isEmpty ? "" : user + "@"
    }

    /// `;ftag=TAG` when append_fromtag is on and the From has a tag.
    func fromTagParam(_ ctx: SYContext, _ v: RRVars) -> String {
        guard appendFromTag.load(ordering: .relaxed), let tag = host.varString(ctx, v.fromTag), !tag.isEmpty else { return "" }
        return ";ftag=" + tag
    }

    /// record_route may run once per message (OpenSIPS: "Double attempt to record-route").
    func alreadyRecorded(_ ctx: SYContext, _ fn: String) -> Bool {
        guard host.contextValue(ctx, RRState.done) != nil else { return false }
        host.log(.err, "\(fn): Double attempt to record-route")
        return true
    }

    func recordRoute(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard let v, let me = local(ctx) else { return -1 }
        if alreadyRecorded(ctx, "record_route") { return -1 }
        // The advertised address (never 0.0.0.0 for a `*` socket).
        let host6 = me.viaHost.contains(":") && !me.viaHost.hasPrefix("[") ? "[\(me.viaHost)]" : me.viaHost
        var uri = "sip:" + userPart(ctx, v) + "\(host6):\(me.viaPort)"
        if me.proto != "udp" { uri += ";transport=\(me.proto)" }
        uri += ";lr" + fromTagParam(ctx, v)
        let params = call.isPresent(0) ? call.string(0) : ""
        if !params.isEmpty { uri += params.hasPrefix(";") ? params : ";" + params }
        uri += host.contextValue(ctx, RRState.pending) ?? ""
        guard host.sipHeaderAdd(ctx, "Record-Route: <\(uri)>", atTop: true) else { return -1 }
        host.contextValueSet(ctx, RRState.done, "1")
        return 1
    }

    /// record_route_preset(text[, text2]): the text is the URI's host part (and whatever follows it); a second one
    /// (double Record-Route) needs enable_double_rr.
    func recordRoutePreset(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard let v else { return -1 }
        if alreadyRecorded(ctx, "record_route_preset") { return -1 }
        let second = call.isPresent(1) ? call.string(1) : nil
        if second != nil && !doubleRR.load(ordering: .relaxed) {
            host.log(.err, "record_route_preset: Attempt to double record-route while 'enable_double_rr' param is disabled")
            return -1
        }
        let user = userPart(ctx, v), ftag = fromTagParam(ctx, v)
        // add_rr_param's parameters go after `;lr` of the first header only (OpenSIPS links them there once).
        var pending = host.contextValue(ctx, RRState.pending) ?? ""
        for text in [call.string(0), second].compactMap({ $0 }) {
            guard host.sipHeaderAdd(ctx, "Record-Route: <sip:\(user)\(text)\(ftag);lr\(pending)>", atTop: true) else { return -1 }
            pending = ""
        }
        host.contextValueSet(ctx, RRState.done, "1")
        return 1
    }

    /// add_rr_param(";name=value"): before record_route, kept for it. After it the header already went into the
    /// message, which the plugin interface cannot edit: refused (see README).
    func addRRParam(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        let param = call.string(0)
        if host.contextValue(ctx, RRState.done) != nil {
            host.log(.err, "add_rr_param: called after record_route(); not supported here, call it before")
            return -1
        }
        let pending = (host.contextValue(ctx, RRState.pending) ?? "") + param
        // OpenSIPS keeps them in a 512-byte buffer.
        guard pending.utf8.count <= 512 else {
            host.log(.err, "add_rr_param: maximum size of rr_param_buf exceeded")
            return -1
        }
        return host.contextValueSet(ctx, RRState.pending, pending) ? 1 : -1
    }
}
