import Foundation
import XCTest
@testable import SwitchyardCore

/// Runs script text through the real parser, resolver and interpreter (no modules), capturing
/// what it logs, so tests read results back the way an operator would.
final class ScriptHarness {
    let collector = LogCollector()
    let engine: ScriptEngine
    let diagnostics = DiagnosticBag()
    let worker: WorkerState
    let ctx: ScriptContext
    var raised: [(String, [(name: String, value: Value)])] = []

    /// `setup` registers what a module would (e.g. pseudo-variable contexts) before the script is resolved.
    init(_ text: String, setup: (ScriptEngine) throws -> Void = { _ in }, file: StaticString = #filePath, line: UInt = #line) {
        engine = ScriptEngine(log: CoreLog(level: LogLevels.debug, xlogLevel: LogLevels.debug, sink: .collector(collector)))
        XCTAssertNoThrow(try setup(engine), file: file, line: line)
        let ast = Parser.parse(text: text, path: "test.cfg", diagnostics: diagnostics)
        engine.applyScriptGlobals(ast.globals)
        var r = Resolver(engine: engine, diagnostics: diagnostics, varHandles: engine.varHandles)
        if !diagnostics.hasErrors { r.resolve(routes: ast.routes) }
        XCTAssertFalse(diagnostics.hasErrors, diagnostics.items.map(\.description).joined(separator: "\n"), file: file, line: line)
        worker = engine.makeWorkerState(rank: 1)
        ctx = engine.makeContext(worker: worker, routeType: .request)
        let box = RaisedBox()
        engine.eventSink = { name, params in box.append(name, params); return 0 }
        raisedBox = box
    }
    private var raisedBox: RaisedBox

    /// Runs the main route (or a named one) once; returns its code.
    @discardableResult
    func run(_ name: String? = nil, event: (String, [(name: String, value: Value)])? = nil) -> Int {
        let kind: RouteKind = event != nil ? .event : .request
        ctx.reset(routeType: kind)
        let route: RouteBox?
        if let event {
            route = engine.eventRoutes[event.0]
            ctx.eventName = event.0
            ctx.eventParams = event.1
        } else {
            route = name.map { engine.namedRoutes[$0] } ?? engine.mainRoute
        }
        guard let route else {
            XCTFail("no such route")
            return -99
        }
        return engine.run(route, ctx)
    }

    /// xlog lines without their date and pid prefix (core log lines left out).
    var output: [String] {
        collector.messages.filter { m in !["ALERT:", "CRITICAL:", "ERROR:", "WARNING:", "NOTICE:", "INFO:", "DBG:"].contains { m.hasPrefix($0) } }
    }

    /// Every line, core messages included.
    var logs: [String] { collector.messages }

    func v(_ pv: String) -> Value {
        (try? engine.resolvePV(pv))?.get(ctx) ?? .null
    }

    var events: [(String, [(name: String, value: Value)])] { raisedBox.items }
}

final class RaisedBox: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [(String, [(name: String, value: Value)])] = []
    func append(_ n: String, _ p: [(name: String, value: Value)]) { lock.lock(); list.append((n, p)); lock.unlock() }
    var items: [(String, [(name: String, value: Value)])] { lock.lock(); defer { lock.unlock() }; return list }
}

/// Parses and resolves text, returning every diagnostic as text (for error tests).
func diagnosticsOf(_ text: String, setup: (ScriptEngine) throws -> Void = { _ in }) -> [String] {
    let engine = ScriptEngine(log: CoreLog(sink: .collector(LogCollector())))
    try? setup(engine)
    let diags = DiagnosticBag()
    let ast = Parser.parse(text: text, path: "test.cfg", diagnostics: diags)
    var r = Resolver(engine: engine, diagnostics: diags, varHandles: engine.varHandles)
    r.resolve(routes: ast.routes)
    return diags.errors.map { d in "\(d.location.map { "\($0.line):\($0.column)" } ?? "-") \(d.message)" }
}
