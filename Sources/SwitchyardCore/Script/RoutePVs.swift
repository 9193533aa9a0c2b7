/// `$route` and `$route.name`: the route being run and the routes that called it. Index 0 (or none) is the current
/// route, 1 its caller, ...; -1 is the top route, -2 the one it called; `[*]` is the whole stack from the top,
/// joined with " > ". Out of range reads as null.
///
/// `$route` names a route with its type, as it is declared: `route` (the main request route), `route[name]`,
/// `failure_route[name]`, `startup_route`, `event_route[E_NAME]`, ...; `$route.name` is the bare name, null for an
/// unnamed top route.
///
/// @unchecked Sendable: its only state is the `let` flag; the stack it reads belongs to the calling context.
final class RouteStackPV: PVAccessor, @unchecked Sendable {
    let full: Bool
    init(full: Bool) { self.full = full }

    override var supportsIndex: Bool { true }
    override var allSeparator: String { " > " }

    func text(_ box: RouteBox) -> Value {
        if !full { return box.name.map { .str($0) } ?? .null }
        return .str(box.name.map { "\(box.kind.keyword)[\($0)]" } ?? box.kind.keyword)
    }

    override func get(_ ctx: ScriptContext) -> Value { get(ctx, index: 0) }

    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        let s = ctx.routeStack
        let i = index >= 0 ? s.count - 1 - index : -index - 1
        guard i >= 0, i < s.count else { return .null }
        return text(s[i])
    }

    override func all(_ ctx: ScriptContext) -> [Value] {
        ctx.routeStack.map { text($0) }
    }
}

enum RoutePVs {
    static func classes() -> [PVClass] {
        [PVClass(name: "route", needsInner: false) { _, _ in RouteStackPV(full: true) },
         PVClass(name: "route.name", needsInner: false) { _, _ in RouteStackPV(full: false) }]
    }
}
