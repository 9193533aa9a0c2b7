// libFuzzer entry point for mi_datagram's exchange (Plugins/mi_datagram/DatagramExchange.swift): one datagram in, at
// most one out, through the MI dispatcher (SwitchyardMI) with a command whose reply grows with its parameter, under a
// small datagram limit so that oversized requests and replies are common. The first input byte says whether the
// datagram was truncated by the socket. Never traps; a reply always fits in one datagram and is a JSON-RPC 2.0
// object. Built with SwitchyardJSON as a module (see Fuzz/build.sh).
import SwitchyardJSON

@inline(never)
private func fail(_ what: String) -> Never {
    fatalError("mi_datagram exchange invariant violated: \(what)")
}

private let limit = 512

private let dispatcher: MIDispatcher = {
    let registry = MIRegistry()
    func reg(_ name: String, recipes: [[String]], _ body: @escaping MICommand.Handler) {
        try? registry.register(module: "fuzz", name: name, flags: [], recipes: recipes, handler: body)
    }
    reg("echo", recipes: [[], ["a"], ["a", "b"]]) { p in
        var out: JSONObject = [:]
        for n in p.recipe { out[n] = p.json(n) }
        return .result(.object(out))
    }
    // A reply of n bytes (n up to 4 * limit): most of them do not fit in one datagram.
    reg("big", recipes: [["n"]]) { p in
        let count = min(max(try p.int("n"), 0), 4 * limit)
        return .result(.string(String(repeating: "x", count: count)))
    }
    reg("err", recipes: [[]]) { _ in .error(code: 500, message: "Internal error", data: "detail") }
    return MIDispatcher(registry: registry)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    // Byte 0: a datagram cut by the socket (MSG_TRUNC gives its full length) when its low bits are 0.
    let received = data[0] & 3 == 0 ? bytes.count + Int(data[0]) * 8 + 1 : bytes.count
    let request = UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, limit)])
    var dispatched = false
    let answer = DatagramExchange.answer(request: request, received: received, limit: limit) { req in
        dispatched = true
        return dispatcher.handle(req).map { Array($0.utf8) }
    }
    if (received > limit) == dispatched { fail("an oversized request was dispatched, or a fitting one was not") }
    guard let reply = answer.reply else {
        if !dispatched { fail("no reply to a request that was not dispatched") }
        return 0
    }
    if reply.count > limit { fail("a reply of \(reply.count) bytes for a \(limit)-byte datagram") }
    guard case .object(let o)? = try? JSONParser().parse(reply), o["jsonrpc"] == .string("2.0") else {
        fail("the reply is not a JSON-RPC 2.0 object")
    }
    if (o["result"] == nil) == (o["error"] == nil) { fail("the reply has both or neither of result and error") }
    if answer.oversizedReply != nil, o["error"] == nil { fail("an oversized reply was not replaced by an error") }
    return 0
}
