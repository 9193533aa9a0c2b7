/// `$route`, `$route.name` and `$route.type`: the route being run and the routes that called it, within the current
/// top route run (a branch_route or error_route run while another route runs starts its own). Index 0 (or none) is
/// the current route, 1 its caller, ...; -1 is the top route, -2 the one it called. Out of range reads as null.
///
/// `$route` names the top route with its type (`request_route`, `failure_route[name]`, `startup_route`,
/// `event_route[E_NAME]`, ...) and every route it called as `route[name]`; `$(route[*])` is the whole run from the
/// top, joined with " > ". `$route.name` is the bare name ("" for an unnamed top route), `$route.type` the top
/// route's type or `route` for the others; both refuse `[*]` (a startup error here, a failed read in OpenSIPS).
///
/// @unchecked Sendable: its only state is the `let` field; the stack it reads belongs to the calling context.
final class RouteStackPV: PVAccessor, @unchecked Sendable {
    enum Field { case full, name, type }
    let field: Field
    init(_ field: Field) { self.field = field }

    override var supportsIndex: Bool { true }
    override var supportsAllIndex: Bool { field == .full }
    override var allSeparator: String { " > " }

    func text(_ box: RouteBox, top: Bool) -> Value {
        switch field {
        case .name: return .str(box.name ?? "")
        case .type: return .str(top ? box.kind.topKeyword : "route")
        case .full:
            let type = top ? box.kind.topKeyword : "route"
            return .str(box.name.map { "\(type)[\($0)]" } ?? type)
        }
    }

    override func get(_ ctx: ScriptContext) -> Value { get(ctx, index: 0) }

    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        let start = ctx.routeStackStart, count = ctx.routeStack.count - start
        let i = index >= 0 ? count - 1 - index : -index - 1
        guard i >= 0, i < count else { return .null }
        return text(ctx.routeStack[start + i], top: i == 0)
    }

    override func all(_ ctx: ScriptContext) -> [Value] {
        let start = ctx.routeStackStart
        return (start..<ctx.routeStack.count).map { text(ctx.routeStack[$0], top: $0 == start) }
    }
}

enum RoutePVs {
    static func classes() -> [PVClass] {
        [PVClass(name: "route", needsInner: false) { _, _ in RouteStackPV(.full) },
         PVClass(name: "route.name", needsInner: false) { _, _ in RouteStackPV(.name) },
         PVClass(name: "route.type", needsInner: false) { _, _ in RouteStackPV(.type) }]
    }
}
