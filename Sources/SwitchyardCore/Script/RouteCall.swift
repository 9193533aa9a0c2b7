import Synchronization
/// A route as the interpreter holds it; the body is filled after every route is known,
/// so routes can call each other in any order.
public final class RouteBox: @unchecked Sendable {
    // Written once at startup, then read-only.
    public let kind: RouteKind
    public let name: String?
    public let location: SourceLocation
    var body: BlockNode
    /// Which of the last four runs of this event_route (wherever they ran) were long (InlineRunners.slowNs or more of
    /// wall-clock time), one bit each, bit 0 the latest.
    let longRuns = Atomic<UInt8>(0)
    /// Whether its runs are slow (InlineRunners.verdict): such a route is queued, never run on a producer's thread.
    let slow = Atomic<Bool>(false)

    init(kind: RouteKind, name: String?, location: SourceLocation) {
        self.kind = kind
        self.name = name
        self.location = location
        self.body = BlockNode([], location)
    }
}

/// `route(name, args...)`: arguments are evaluated once, by value (3.x); literals are not interpolated.
final class RouteCallNode: CallNode, @unchecked Sendable {
    enum Target {
        case fixed(RouteBox)
        case dynamic(ExprNode)
    }
    static let maxDepth = 100
    let target: Target
    let args: [ExprNode]

    init(target: Target, args: [ExprNode], _ loc: SourceLocation) {
        self.target = target
        self.args = args
        super.init(loc)
    }

    override func invoke(_ ctx: ScriptContext) -> Int {
        let box: RouteBox
        switch target {
        case .fixed(let b): box = b
        case .dynamic(let e):
            guard let name = e.eval(ctx)?.stringForm, let b = ctx.engine.namedRoutes[name] else {
                ctx.engine.log.error("\(location): route(): no route named \(e.eval(ctx)?.printed ?? "<null>")")
                return -1
            }
            box = b
        }
        if let t = ctx.trace { t.log("route " + (box.name ?? ""), location, ctx) }
        return RouteCallNode.run(box, args: args.map { $0.eval(ctx) ?? .null }, ctx: ctx, location: location)
    }

    /// Runs a named route with argument values on a context (also for modules, through the host table).
    static func run(_ box: RouteBox, args values: [Value], ctx: ScriptContext, location: SourceLocation) -> Int {
        guard ctx.depth < RouteCallNode.maxDepth else {
            ctx.engine.log.error("\(location): route(\(box.name ?? "")): too many nested routes (limit \(RouteCallNode.maxDepth))")
            return -1
        }
        ctx.frames.append(values)
        ctx.routeStack.append(box)
        ctx.depth += 1
        ctx.returnValues.removeAll(keepingCapacity: true)
        let r = box.body.exec(ctx)
        ctx.depth -= 1
        ctx.routeStack.removeLast()
        ctx.frames.removeLast()
        switch ctx.flow {
        case .returnRoute:
            ctx.flow = .normal
            return ctx.returnCode
        case .exitScript:
            return 0
        case .breakLoop:
            ctx.flow = .normal
            return r
        case .normal:
            return r
        }
    }
}
