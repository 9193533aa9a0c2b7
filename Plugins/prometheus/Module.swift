// The OpenSIPS `prometheus` module as a Switchyard plugin: GET /metrics (on httpd) answers every selected statistic
// of the core and the modules in the Prometheus text format. Statistics are read through the core's MI
// (get_statistics / list_statistics), so the module needs nothing beyond the MI transport hook of the ABI.
//
//   modparam("prometheus", "statistics", "all")      or "core: load: freeswitch:" or single names
//   modparam("prometheus", "labels", "freeswitch: /^(.*)@(.*)$/\1:box=\"\2\"/")
//
// See README.md next to this file.
import SwitchyardABI
import SwitchyardJSON
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: PrometheusModule.name) else { return nil } // another ABI major: refuse
    return PrometheusModule(host: host).build().pointer // allocated once, never freed
}

final class PrometheusModule: Sendable {
    static let name = "prometheus"
    static let version = "1.0.0"
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    let host: PluginHost
    let settings = Mutex(PromSettings())
    let rules = Mutex<[LabelRule]>([])
    /// Frozen at init: the settings, rules and bound httpd table the handler reads.
    let running = Mutex<Running?>(nil)
    /// The metrics the script route adds, per scrape in progress.
    let scriptPages = ScriptPages()
    /// modparam script_route: a route[name] run on every scrape.
    let scriptRouteParam = Mutex<String?>(nil)
    var scriptRouteName: String? { scriptRouteParam.withLock { $0 } }

    struct Running: @unchecked Sendable { // the table pointer is httpd's, alive as long as the process
        let settings: PromSettings
        let rules: [LabelRule]
        let http: UnsafePointer<sy_httpd_api>
        /// The get_statistics request for the selectors, built once.
        let request: [UInt8]
        /// The script_route, found at init (the core's; valid until the server stops).
        let route: OpaquePointer?
    }

    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "Prometheus metrics of every statistic, on httpd")
        m.dependency(on: "httpd")
        func str(_ name: String, _ type: ParamType = .str, _ set: @escaping @Sendable (inout PromSettings, String) -> Void) {
            m.param(name, type) { [self] v in
                guard let s = v.stringValue else { throw PluginError("must be a string") }
                settings.withLock { set(&$0, s) }
            }
        }
        str("root") { c, v in
            var t = Substring(v)
            while t.hasPrefix("/") { t = t.dropFirst() }
            while t.hasSuffix("/") { t = t.dropLast() }
            c.root = String(t)
        }
        str("prefix") { $0.prefix = $1 }
        str("group_prefix") { $0.groupPrefix = $1 }
        str("delimiter") { $0.delimiter = $1 }
        str("group_label") { $0.groupLabel = $1 }
        // Repeatable: each value adds space-separated selectors.
        str("statistics", [.str, .repeatable]) { c, v in c.statistics += v.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
        m.param("group_mode", .int) { [self] v in
            guard let i = v.intValue, (0...2).contains(i) else { throw PluginError("must be 0 (none), 1 (in the name) or 2 (a label)") }
            settings.withLock { $0.groupMode = Int(i) }
        }
        m.param("labels", [.str, .repeatable]) { [self] v in
            guard let s = v.stringValue else { throw PluginError("must be \"group: /regex/substitution/\"") }
            let rule = try LabelRule(s)
            rules.withLock { $0.append(rule) }
        }
        m.param("script_route", .str) { [self] v in
            guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be the name of a route") }
            scriptRouteParam.withLock { $0 = s }
        }
        m.function("prometheus_declare_stat", params: [.str, [.str, .optional], [.str, .optional]], routes: .request) { [self] call in
            declareStat(call)
        }
        m.function("prometheus_push_stat", params: [.int, [.str, .optional], [.str, .optional]], routes: .request) { [self] call in
            pushStat(call)
        }
        m.onInit { [self] in try start() }
        return m.build()
    }

    func start() throws {
        guard host.providesMIDispatch else { throw PluginError("the core is too old (needs ABI 1.3 for mi_dispatch)") }
        let api = try host.apiBind(SY_HTTPD_API_NAME, major: UInt32(SY_HTTPD_MAJOR), as: sy_httpd_api.self)
        let cfg = settings.withLock { $0 }
        if cfg.statistics.isEmpty { host.log(.warn, "no statistics selected (modparam \"statistics\"): /\(cfg.root) answers an empty page") }
        let selectors = cfg.statistics.contains(where: { $0.lowercased() == "all" }) ? ["all"] : cfg.statistics
        let params = selectors.map { MIReply.quote($0) }.joined(separator: ",")
        let request = Array(#"{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":[\#(params)]},"id":1}"#.utf8)
        var route: OpaquePointer?
        if let name = scriptRouteName {
            route = host.routeFind(.request, name)
            guard route != nil else { throw PluginError("Prometheus route <\(name)> not defined!") }
            guard host.provides(\.rt_sip_ctx_open_request) else { throw PluginError("script_route needs a core of ABI 1.10 or later") }
        }
        running.withLock { $0 = Running(settings: cfg, rules: rules.withLock { $0 }, http: api, request: request, route: route) }
        let user = UnsafeMutableRawPointer(Unmanaged.passUnretained(self).toOpaque()) // the module is never freed
        let rc = api.pointee.register_root?(api.pointee.server, Self.name, cfg.root, 0, { user, req in
            guard let user, let req else { return }
            Unmanaged<PrometheusModule>.fromOpaque(user).takeUnretainedValue().serve(req)
        }, user) ?? -2
        guard rc == 0 else { throw PluginError(rc == -1 ? "the URL root /\(cfg.root) is taken by another module" : "httpd refused the URL root /\(cfg.root)") }
        host.log(.info, "metrics at /\(cfg.root) (\(selectors.isEmpty ? "none" : selectors.joined(separator: " ")))")
    }

    func serve(_ req: OpaquePointer) {
        guard let rt = running.withLock({ $0 }) else { return }
        let method = rt.http.pointee.method?(req)
        let m = method.flatMap { $0.s.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: method!.len), as: UTF8.self) } } ?? ""
        guard m == "GET" || m == "HEAD" else {
            _ = rt.http.pointee.reply_header?(req, "Allow", "GET")
            reply(rt, req, 405, "405: only GET is allowed\n")
            return
        }
        // The statistics, what the script route adds, then OpenSIPS's final empty line.
        let page = Exposition.render(samples(rt), rt.settings, rules: rt.rules) + runScriptRoute(rt.route) + "\n"
        reply(rt, req, 200, page)
    }

    private func reply(_ rt: Running, _ req: OpaquePointer, _ status: Int32, _ text: String) {
        var t = text
        _ = t.withUTF8 { u in
            u.withMemoryRebound(to: CChar.self) { rt.http.pointee.reply?(req, status, Self.contentType, $0.baseAddress, $0.count) }
        }
    }

    /// The selected statistics with their values and types, in the core's order.
    func samples(_ rt: Running) -> [StatSample] {
        guard !rt.settings.statistics.isEmpty,
              let values = result(host.miDispatch(rt.request))?.objectValue else { return [] }
        let kinds = result(host.miDispatch(Array(#"{"jsonrpc":"2.0","method":"list_statistics","id":1}"#.utf8)))?.objectValue
        var gauges = Set<String>()
        for member in kinds?.members ?? [] where member.value.stringValue == "non-incremental" { gauges.insert(member.key) }
        let all = values.members.compactMap { member -> StatSample? in
            guard let colon = member.key.firstIndex(of: ":"), let v = member.value.intValue else { return nil }
            return StatSample(group: String(member.key[..<colon]), name: String(member.key[member.key.index(after: colon)...]),
                              value: v, isGauge: gauges.contains(member.key))
        }
        return Self.ordered(all, selectors: rt.settings.statistics)
    }

    /// OpenSIPS's order: with `all`, the core's; otherwise the selected groups, the last one named first (each group's
    /// statistics in the core's order), then the single statistics, the last one named first (OpenSIPS pushes every
    /// selector on the head of its list). A statistic selected twice is shown once.
    static func ordered(_ samples: [StatSample], selectors: [String]) -> [StatSample] {
        if selectors.contains(where: { $0.lowercased() == "all" }) { return samples }
        var out: [StatSample] = []
        var taken = Set<String>()
        func take(_ s: StatSample) { if taken.insert(s.group + ":" + s.name).inserted { out.append(s) } }
        for sel in selectors.reversed() where sel.hasSuffix(":") {
            let group = String(sel.dropLast())
            for s in samples where s.group == group { take(s) }
        }
        for sel in selectors.reversed() where !sel.hasSuffix(":") {
            for s in samples where s.name == sel || s.group + ":" + s.name == sel { take(s) }
        }
        return out
    }

    private func result(_ reply: [UInt8]?) -> JSONValue? {
        guard let reply, let doc = try? JSONParser().parse(reply) else { return nil }
        return doc.objectValue?.members.first { $0.key == "result" }?.value
    }
}
