// libFuzzer entry point for MI JSON-RPC (SwitchyardMI over SwitchyardJSON): a request text through the dispatcher
// with commands of several parameter recipes, as every MI transport hands it over. Any text gets a JSON-RPC reply
// (or none, for a notification) and never traps. Built in two modules (see Fuzz/build.sh).

@inline(never)
private func fail(_ what: String) -> Never {
    fatalError("MI invariant violated: \(what)")
}

private let dispatcher: MIDispatcher = {
    let registry = MIRegistry()
    func reg(_ name: String, recipes: [[String]], flags: MICommand.Flags = [], _ body: @escaping MICommand.Handler) {
        try? registry.register(module: "fuzz", name: name, flags: flags, recipes: recipes, handler: body)
    }
    reg("echo", recipes: [[], ["a"], ["a", "b"]]) { p in
        var out: JSONObject = [:]
        for n in p.recipe { out[n] = p.json(n) }
        return .result(.object(out))
    }
    reg("typed", recipes: [["n", "s", "arr"]]) { p in
        .result(["n": JSONValue(try p.int("n")), "s": .string(try p.string("s")), "arr": .array(try p.array("arr"))])
    }
    reg("named", recipes: [["x"]], flags: .namedParamsOnly) { _ in .ok }
    reg("amb", recipes: [["x"], ["y"]]) { p in .result(JSONValue(p.recipe)) }
    reg("err", recipes: [[]]) { _ in .error(code: 500, message: "Internal error", data: "detail") }
    return MIDispatcher(registry: registry)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let reply = dispatcher.response(toText: text) else { return 0 }
    guard case .object(let o) = reply, o["jsonrpc"] == .string("2.0") else { fail("reply is not a JSON-RPC 2.0 object") }
    if (o["result"] == nil) == (o["error"] == nil) { fail("reply has both or neither of result and error") }
    _ = JSONSerializer.serialize(reply)
    return 0
}
