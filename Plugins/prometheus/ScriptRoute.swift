// The `script_route` of OpenSIPS's prometheus module: on every scrape a script route runs (on a dummy request, as
// OpenSIPS runs it) and adds its own metrics with prometheus_declare_stat() / prometheus_push_stat(), after the
// statistics and before the page's final empty line.
import Foundation
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

/// The metrics a script route adds during one scrape.
final class ScriptPage {
    var text = ""
    /// The metric declared last: prometheus_push_stat() writes samples of it.
    var declared: String?
}

/// The pages being built, one per httpd thread running the route (the route runs synchronously on that thread, so the
/// functions it calls find their page by thread).
final class ScriptPages: Sendable {
    private let pages = Mutex<[UInt: ScriptPageBox]>([:])

    /// @unchecked Sendable: the box crosses only into `pages`' Mutex. The page inside is created by `begin()` on the
    /// thread whose pthread_self() keys it, and `current`/`end()` look it up by the caller's own pthread_self(), so
    /// only that thread ever reads or writes the page (the route runs synchronously on it between begin and end).
    struct ScriptPageBox: @unchecked Sendable {
        let page: ScriptPage
    }

    func begin() -> ScriptPage {
        let p = ScriptPage()
        pages.withLock { $0[UInt(pthread_self())] = ScriptPageBox(page: p) }
        return p
    }

    func end() { _ = pages.withLock { $0.removeValue(forKey: UInt(pthread_self())) } }

    /// The page of the route running on this thread; nil outside the prometheus route.
    var current: ScriptPage? { pages.withLock { $0[UInt(pthread_self())]?.page } }
}

extension PrometheusModule {
    /// A request no one sent, for the route's context (OpenSIPS runs the route on a dummy message too).
    static let dummyRequest = Array(("OPTIONS sip:prometheus@127.0.0.1 SIP/2.0\r\n"
        + "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKprometheus\r\n"
        + "From: <sip:prometheus@127.0.0.1>;tag=prometheus\r\nTo: <sip:prometheus@127.0.0.1>\r\n"
        + "Call-ID: prometheus\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").utf8)

    /// What the script route adds to this scrape ("" without a route, or when the route cannot run).
    func runScriptRoute(_ route: OpaquePointer?) -> String {
        guard let route, let runtime = host.runtime, host.provides(\.rt_sip_ctx_open_request),
              let open = host.raw.pointee.rt_sip_ctx_open_request, let run = host.raw.pointee.route_run,
              let close = host.raw.pointee.sip_ctx_close else { return "" }
        let ctx = Self.dummyRequest.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { open(runtime, $0.baseAddress, $0.count, RouteMask.request.rawValue, nil) }
        }
        guard let ctx else {
            host.log(.err, "failed to get a dummy message for the prometheus route")
            return ""
        }
        let page = scriptPages.begin()
        _ = run(ctx, route)
        scriptPages.end()
        close(ctx, nil)
        return page.text
    }

    /// prometheus_declare_stat(name, [type], [help]): the HELP line (when help is given) and the TYPE line (type
    /// default "gauge") of the metric the following prometheus_push_stat() calls write.
    func declareStat(_ call: FunctionCall) -> Int32 {
        guard let page = scriptPages.current else {
            host.log(.err, "this function should only be called inside '\(scriptRouteName ?? "script_route")' route")
            return -2
        }
        let name = call.string(0)
        let type = call.isPresent(1) ? call.string(1) : "gauge"
        if call.isPresent(2) {
            let help = call.string(2)
            if !help.isEmpty { page.text += "# HELP \(name) \(help)\n" }
        }
        page.text += "# TYPE \(name) \(type)\n"
        page.declared = name
        return 1
    }

    /// prometheus_push_stat(value, [label_name], [label_value]): one sample of the declared metric. With both label
    /// arguments the label is `{name="value"}`; with the name only, that text is the label set as written.
    func pushStat(_ call: FunctionCall) -> Int32 {
        guard let page = scriptPages.current, let name = page.declared else {
            host.log(.err, "can not push stat if not previously declared! use prometheus_declare_stat() first")
            return -2
        }
        var labels = ""
        if call.isPresent(1) {
            labels = call.isPresent(2) ? "{\(call.string(1))=\"\(call.string(2))\"}" : call.string(1)
        }
        page.text += "\(name)\(labels) \(call.int(0))\n"
        return 1
    }
}
