// The OpenSIPS `textops` module as a Switchyard plugin: regular-expression searches and rewrites of the message.
//
//   search  search_body  search_append  replace  replace_all  replace_body  replace_body_all
//   subst  subst_uri  subst_user  subst_body
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "textops") else { return nil }
    guard host.provides(\.sip_info) else {
        host.log(.err, "this core has no SIP message access (needs ABI 1.7)")
        return nil
    }
    return TextOps(host: host).build().pointer // allocated once, never freed
}

/// The pseudo-variables the functions read or write, resolved once at init.
struct TextVars: Sendable {
    let message: SYVar  // $mb: the message as received
    let body: SYVar     // $rb
    let ruri: SYVar     // $ru, read and written by subst_uri
    let ruriUser: SYVar // $rU, written by subst_user
}

final class TextOps: Sendable {
    let host: PluginHost
    let vars = Mutex<TextVars?>(nil)
    /// Compiled expressions by text: literal arguments compiled at startup, variable ones on first use.
    let cache = RegexCache()
    init(host: PluginHost) { self.host = host }

    static let anyMessage: RouteMask = [.request, .onReply, .failure, .branch, .local]
    /// subst_uri and subst_user: OpenSIPS allows them in onreply_route too, where there is no request-URI (-1).
    static let uriRoutes: RouteMask = [.request, .onReply, .failure, .branch]

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "textops", version: "1.0.0", description: "regular-expression text operations")
        let any = TextOps.anyMessage
        let re = checkRegex, se = checkSubst
        m.function("search", params: [.str], routes: any, fixup: re) { [self] in search($0, body: false) }
        m.function("search_body", params: [.str], routes: any, fixup: re) { [self] in search($0, body: true) }
        m.function("subst_uri", params: [.str], routes: TextOps.uriRoutes, fixup: se) { [self] in substURI($0, userOnly: false) }
        m.function("subst_user", params: [.str], routes: TextOps.uriRoutes, fixup: se) { [self] in substURI($0, userOnly: true) }
        registerRewrites(&m)
        m.onInit { [self] in
            let v = TextVars(message: try host.varParse("$mb"), body: try host.varParse("$rb"),
                             ruri: try host.varParse("$ru"), ruriUser: try host.varParse("$rU"))
            vars.withLock { $0 = v }
        }
        return m.build()
    }

    /// The resolved variables (set at init, before any route runs).
    var v: TextVars {
        guard let v = vars.withLock({ $0 }) else { preconditionFailure("textops: a function ran before init") }
        return v
    }


    /// Argument `i` as a compiled regex parameter (from the cache); nil (logged) when it does not compile.
    func regex(_ call: FunctionCall, _ i: Int, _ fn: String) -> POSIXRegex? {
        let pattern = call.string(i)
        guard let re = cache.regex(pattern) else {
            host.log(.err, "\(fn): bad regular expression '\(pattern)'")
            return nil
        }
        return re
    }

    /// Argument 0 parsed as a subst expression; nil (logged) when it is not one.
    func subst(_ call: FunctionCall, _ fn: String) -> SubstExpr? {
        switch cache.subst(call.string(0)) {
        case .success(let e): return e
        case .failure(let err):
            host.log(.err, "\(fn): bad subst expression '\(call.string(0))': \(err)")
            return nil
        }
    }
}
