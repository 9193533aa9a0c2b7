import Foundation
import SwitchyardABI
import SwitchyardCore
import SwitchyardJSON

/// The `json` bench's event rows: the DTMF event reaching `$json(ev) := $param(body)` as an event parameter, either as
/// its JSON text (a text/event-json event) or as a tree (ABI 1.9: a text/event-plain event, decoded by the freeswitch
/// module): the core's copy of the tree (ValueTree, once per event) is timed with the script.
extension Bench {
    static func jsonEventRows(_ s: Server, body: String, iterations: Int, report: (String, Int, Double) -> Void) {
        guard case .object(let object)? = try? JSONParser().parse(body) else { fatalError("parse failed") }
        // The tree's C form (what the freeswitch module hands the core), in memory that lives as long as the process.
        func cstr(_ s: String) -> sy_str { sy_str(s: UnsafePointer(strdup(s)), len: s.utf8.count) }
        let members = UnsafeMutablePointer<sy_member>.allocate(capacity: object.count)
        for (i, m) in object.enumerated() {
            let v = sy_value(type: Int32(SY_VAL_STR.rawValue), reserved: 0, i: 0, s: cstr(m.value.stringValue ?? ""))
            (members + i).initialize(to: sy_member(key: cstr(m.key), value: v))
        }
        let root = sy_value(type: Int32(SY_VAL_OBJECT.rawValue), reserved: 0, i: 0,
                            s: sy_str(s: UnsafeRawPointer(members).assumingMemoryBound(to: CChar.self), len: object.count))
        func run(_ name: String, _ setup: @escaping @Sendable (ScriptContext) -> Void) {
            guard let box = s.engine.namedRoutes["jevent"] else { fatalError("no route jevent") }
            let group = DispatchGroup()
            group.enter()
            let start = DispatchTime.now()
            _ = s.queue!.offer(.task { ctx in
                for _ in 0..<iterations {
                    ctx.reset(routeType: .event)
                    ctx.eventName = "E_FREESWITCH"
                    setup(ctx)
                    s.engine.run(box, ctx)
                }
                group.leave()
            })
            group.wait()
            report(name, iterations, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
        }
        // Both rows include the core's copy of what the plugin raised (the text into a String, the tree into a ValueTree).
        let text = TreeRoot(sy_value(type: Int32(SY_VAL_STR.rawValue), reserved: 0, i: 0, s: cstr(body)))
        run("event $json(ev) := $param(body), JSON text (copy + 3 reads)") { ctx in
            let s = text.root.s
            ctx.eventParams = [(name: "body", value: .str(String(decoding: UnsafeRawBufferPointer(start: s.s, count: s.len), as: UTF8.self)))]
        }
        let tree = TreeRoot(root)
        run("event $json(ev) := $param(body), tree (copy + 3 reads)") { ctx in
            ctx.eventParams = [(name: "body", value: .null)]
            ctx.eventTrees = [(index: 0, tree: ValueTree(copying: tree.root)!)]
        }
        print("json: tree JSON text written \(s.bus?.treesWritten.load(ordering: .relaxed) ?? -1) times")
    }
}

/// The bench's C tree, read only (by the worker) once built.
// @unchecked: `root` is a `let` whose C memory is filled before this object is made and never written or freed while
// the bench runs, so concurrent reads are safe.
final class TreeRoot: @unchecked Sendable {
    let root: sy_value
    init(_ root: sy_value) { self.root = root }
}
