import Dispatch
import Synchronization
import XCTest
@testable import SwitchyardMI

private struct Boom: Error, CustomStringConvertible {
    var description: String { "boom" }
}

final class MIDispatcherTests: XCTestCase {
    private var dispatcher: MIDispatcher!

    override func setUpWithError() throws {
        let registry = MIRegistry()
        // Echoes what the handler saw: the selected recipe and each param's raw value.
        try registry.register(module: "test", name: "echo", recipes: [[], ["a"], ["a", "b"]]) { params in
            var out: JSONObject = ["recipe": JSONValue(params.recipe)]
            for name in params.recipe { out[name] = params.json(name) }
            return .result(.object(out))
        }
        try registry.register(module: "test", name: "named_only", flags: .namedParamsOnly, recipes: [["x"]]) { _ in .ok }
        try registry.register(module: "test", name: "amb", recipes: [["x"], ["y"]]) { params in
            .result(JSONValue(params.recipe))
        }
        try registry.register(module: "test", name: "typed", recipes: [["n", "s", "arr"]]) { params in
            .result(["n": JSONValue(try params.int("n")), "s": .string(try params.string("s")),
                     "arr": .array(try params.array("arr"))])
        }
        try registry.register(module: "test", name: "missing") { params in .result(.string(try params.string("zzz"))) }
        try registry.register(module: "test", name: "null_cmd") { _ in .serverError }
        try registry.register(module: "test", name: "throws") { _ in throw Boom() }
        try registry.register(module: "test", name: "custom_error") { _ in
            .error(code: 500, message: "Internal error", data: "detail")
        }
        try registry.register(MICommand(module: "test", name: "slow", recipes: [["ms"]]) { params in
            let ms = try params.int("ms")
            try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)  // a slow command, on purpose
            return .result(.int(Int64(ms)))
        })
        dispatcher = MIDispatcher(registry: registry)
    }

    private func call(_ request: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        guard let text = dispatcher.handle(request) else { return nil }
        XCTAssertFalse(text.contains("\n"), "reply must be one line", file: file, line: line)
        return try? JSONValue(parsing: text)
    }

    private func assertError(_ request: String, code: Int64, message: String, data: String? = nil, id: JSONValue = .null,
                             file: StaticString = #filePath, line: UInt = #line) {
        guard let reply = call(request, file: file, line: line) else { return XCTFail("no reply", file: file, line: line) }
        var error: JSONObject = ["code": .int(code), "message": .string(message)]
        if let data { error["data"] = .string(data) }
        XCTAssertEqual(reply, ["jsonrpc": "2.0", "error": .object(error), "id": id], request, file: file, line: line)
    }

    // MARK: §4.2 error codes

    func testParseErrorExactText() {
        XCTAssertEqual(dispatcher.handle(#"{"jsonrpc":"2.0","#),
                       #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
        assertError("not json", code: -32700, message: "Parse error")
    }

    func testInvalidRequestVariants() {
        assertError(#"[1,2]"#, code: -32600, message: "Invalid Request")
        assertError(#""ps""#, code: -32600, message: "Invalid Request")
        assertError(#"{"method":"echo","id":1}"#, code: -32600, message: "Invalid Request", id: 1)
        assertError(#"{"jsonrpc":"1.0","method":"echo","id":1}"#, code: -32600, message: "Invalid Request", id: 1)
        assertError(#"{"jsonrpc":2.0,"method":"echo","id":1}"#, code: -32600, message: "Invalid Request", id: 1)
        assertError(#"{"jsonrpc":"2.0","id":"a"}"#, code: -32600, message: "Invalid Request", id: "a")
        assertError(#"{"jsonrpc":"2.0","method":5,"id":"a"}"#, code: -32600, message: "Invalid Request", id: "a")
        assertError(#"{"jsonrpc":"2.0","method":"echo","id":{"x":1}}"#, code: -32600, message: "Invalid Request")
        assertError(#"{"jsonrpc":"2.0","method":"echo","id":true}"#, code: -32600, message: "Invalid Request")
        assertError(#"{"jsonrpc":"2.0","method":"echo","id":[1]}"#, code: -32600, message: "Invalid Request")
        assertError(#"{"jsonrpc":"2.0","method":"echo","params":"a","id":3}"#, code: -32600, message: "Invalid Request", id: 3)
        assertError(#"{"jsonrpc":"2.0","method":"echo","params":7,"id":3}"#, code: -32600, message: "Invalid Request", id: 3)
        assertError(#"{"jsonrpc":"2.0","method":"echo","params":null,"id":3}"#, code: -32600, message: "Invalid Request", id: 3)
    }

    func testMethodNotFoundExactText() {
        XCTAssertEqual(dispatcher.handle(#"{"jsonrpc":"2.0","method":"nope","id":"12"}"#),
                       #"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"12"}"#)
    }

    func testNamedOnlyRejectsPositional() {
        assertError(#"{"jsonrpc":"2.0","method":"named_only","params":["1"],"id":1}"#, code: -32602,
                    message: "Invalid params", data: "Command only supports named parameters", id: 1)
        XCTAssertEqual(call(#"{"jsonrpc":"2.0","method":"named_only","params":{"x":"1"},"id":1}"#)?["result"], "OK")
    }

    func testAmbiguousPositional() {
        assertError(#"{"jsonrpc":"2.0","method":"amb","params":["1"],"id":1}"#, code: -32602,
                    message: "Invalid params", data: "Ambiguous call, use named parameters instead", id: 1)
        XCTAssertEqual(call(#"{"jsonrpc":"2.0","method":"amb","params":{"y":"1"},"id":1}"#)?["result"], ["y"])
    }

    func testTooFewOrTooMany() {
        assertError(#"{"jsonrpc":"2.0","method":"echo","params":[1,2,3],"id":1}"#, code: -32602,
                    message: "Invalid params", data: "Too few or too many parameters", id: 1)
        assertError(#"{"jsonrpc":"2.0","method":"named_only","id":1}"#, code: -32602,
                    message: "Invalid params", data: "Too few or too many parameters", id: 1)
    }

    func testNamedMismatch() {
        // Unknown name; extra key (counts must match); missing one of two.
        for params in [#"{"c":1}"#, #"{"a":1,"b":2,"c":3}"#, #"{"a":1,"c":2}"#] {
            assertError(#"{"jsonrpc":"2.0","method":"echo","params":\#(params),"id":1}"#, code: -32602,
                        message: "Invalid params", data: "Named parameters do not match", id: 1)
        }
    }

    func testBadTypeAndEmptyArray() {
        assertError(#"{"jsonrpc":"2.0","method":"typed","params":["x","s",[1]],"id":1}"#, code: -32602,
                    message: "Invalid params", data: "Bad type for parameter 'n'", id: 1)
        assertError(#"{"jsonrpc":"2.0","method":"typed","params":[1,true,[1]],"id":1}"#, code: -32602,
                    message: "Invalid params", data: "Bad type for parameter 's'", id: 1)
        assertError(#"{"jsonrpc":"2.0","method":"typed","params":[1,"s","notarray"],"id":1}"#, code: -32602,
                    message: "Invalid params", data: "Bad type for parameter 'arr'", id: 1)
        assertError(#"{"jsonrpc":"2.0","method":"typed","params":[1,"s",[]],"id":1}"#, code: -32602,
                    message: "Invalid params", data: "Empty array in parameter 'arr'", id: 1)
    }

    func testMissingParameterAfterMatch() {
        assertError(#"{"jsonrpc":"2.0","method":"missing","id":1}"#, code: -32000,
                    message: "Server error", data: "Failed to handle parameter", id: 1)
    }

    func testHandlerReturningNullAndThrowing() {
        assertError(#"{"jsonrpc":"2.0","method":"null_cmd","id":1}"#, code: -32000,
                    message: "Server error", data: "Command handler returned null", id: 1)
        assertError(#"{"jsonrpc":"2.0","method":"throws","id":1}"#, code: -32000,
                    message: "Server error", data: "boom", id: 1)
        assertError(#"{"jsonrpc":"2.0","method":"custom_error","id":1}"#, code: 500,
                    message: "Internal error", data: "detail", id: 1)
    }

    // MARK: ids and notifications

    func testIdEchoedLastWithItsType() {
        XCTAssertEqual(dispatcher.handle(#"{"id":"5","method":"echo","jsonrpc":"2.0"}"#),
                       #"{"jsonrpc":"2.0","result":{"recipe":[]},"id":"5"}"#)
        XCTAssertEqual(dispatcher.handle(#"{"jsonrpc":"2.0","method":"echo","id":5}"#),
                       #"{"jsonrpc":"2.0","result":{"recipe":[]},"id":5}"#)
        XCTAssertEqual(dispatcher.handle(#"{"jsonrpc":"2.0","method":"echo","id":2.5}"#),
                       #"{"jsonrpc":"2.0","result":{"recipe":[]},"id":2.5}"#)
        XCTAssertEqual(dispatcher.handle(#"{"jsonrpc":"2.0","method":"echo","id":null}"#),
                       #"{"jsonrpc":"2.0","result":{"recipe":[]},"id":null}"#)
    }

    func testNotificationsGetNoReplyExceptParseAndInvalidRequest() {
        XCTAssertNil(dispatcher.handle(#"{"jsonrpc":"2.0","method":"echo"}"#))
        XCTAssertNil(dispatcher.handle(#"{"jsonrpc":"2.0","method":"nope"}"#))
        XCTAssertNil(dispatcher.handle(#"{"jsonrpc":"2.0","method":"echo","params":[1,2,3]}"#))
        XCTAssertNil(dispatcher.handle(#"{"jsonrpc":"2.0","method":"null_cmd"}"#))
        assertError(#"{"jsonrpc":"2.0","method":5}"#, code: -32600, message: "Invalid Request")
        assertError(#"{"jsonrpc":"2.0","method":"#, code: -32700, message: "Parse error")
    }

    func testNotificationStillRunsHandler() throws {
        let registry = MIRegistry()
        let stats = StatsRegistry()
        let hits = try stats.register(group: "t", name: "hits")
        try registry.register(module: "t", name: "hit") { _ in hits.increment(); return .ok }
        XCTAssertNil(MIDispatcher(registry: registry).handle(#"{"jsonrpc":"2.0","method":"hit"}"#))
        XCTAssertEqual(hits.value, 1)
    }

    // MARK: params

    func testEmptyParamsMeanNoParams() {
        for params in ["{}", "[]"] {
            XCTAssertEqual(call(#"{"jsonrpc":"2.0","method":"echo","params":\#(params),"id":"1"}"#)?["result"],
                           ["recipe": []])
        }
    }

    func testPositionalMappedThroughRecipe() {
        XCTAssertEqual(call(#"{"jsonrpc":"2.0","method":"echo","params":["x",2],"id":1}"#)?["result"],
                       ["recipe": ["a", "b"], "a": "x", "b": 2])
        XCTAssertEqual(call(#"{"jsonrpc":"2.0","method":"echo","params":{"b":2,"a":"x"},"id":1}"#)?["result"],
                       ["recipe": ["a", "b"], "a": "x", "b": 2])
    }

    func testIntParamsFromNumericStrings() {
        XCTAssertEqual(call(#"{"jsonrpc":"2.0","method":"typed","params":["-42",17,["a"]],"id":1}"#)?["result"],
                       ["n": -42, "s": "17", "arr": ["a"]])
        XCTAssertEqual(call(#"{"jsonrpc":"2.0","method":"typed","params":{"n":4.0,"s":"x","arr":[1]},"id":1}"#)?["result"],
                       ["n": 4, "s": "x", "arr": [1]])
    }

    // MARK: async commands and threads

    func testAsyncCommandFromSyncAndAsyncEntryPoints() async {
        let request = #"{"jsonrpc":"2.0","method":"slow","params":["20"],"id":9}"#
        let d = dispatcher!
        let fromThread = await withCheckedContinuation { (c: CheckedContinuation<String?, Never>) in
            DispatchQueue.global().async { c.resume(returning: d.handle(request)) }
        }
        XCTAssertEqual(fromThread, #"{"jsonrpc":"2.0","result":20,"id":9}"#)
        let fromTask: String? = await d.handle(request)
        XCTAssertEqual(fromTask, #"{"jsonrpc":"2.0","result":20,"id":9}"#)
    }

    func testStructuredResponse() {
        XCTAssertEqual(dispatcher.response(to: ["jsonrpc": "2.0", "method": "echo", "params": ["a": 1], "id": 1]),
                       ["jsonrpc": "2.0", "result": ["recipe": ["a"], "a": 1], "id": 1])
        XCTAssertNil(dispatcher.response(to: ["jsonrpc": "2.0", "method": "echo"]))
        XCTAssertEqual(dispatcher.response(toText: "{")?["error"]?["code"], -32700)
    }

    func testBytesInput() {
        let bytes = Array(#"{"jsonrpc":"2.0","method":"echo","params":["é"],"id":1}"#.utf8)
        XCTAssertEqual(dispatcher.handle(bytes), #"{"jsonrpc":"2.0","result":{"recipe":["a"],"a":"é"},"id":1}"#)
    }

    func testPrettyStyle() {
        let pretty = MIDispatcher(registry: dispatcher.registry, style: .pretty)
        XCTAssertEqual(pretty.handle(#"{"jsonrpc":"2.0","method":"null_cmd","id":1}"#),
                       "{\n\t\"jsonrpc\": \"2.0\",\n\t\"error\": {\n\t\t\"code\": -32000,\n\t\t\"message\": \"Server error\",\n\t\t\"data\": \"Command handler returned null\"\n\t},\n\t\"id\": 1\n}")
    }

    func testConcurrentRequests() throws {
        let registry = MIRegistry()
        let stats = StatsRegistry()
        let calls = try stats.register(group: "t", name: "calls")
        try registry.register(module: "t", name: "count", recipes: [["n"]]) { params in
            calls.increment()
            return .result(.int(Int64(try params.int("n"))))
        }
        let d = MIDispatcher(registry: registry)
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 400) { i in
            // Registration while serving must be safe too.
            if i % 50 == 0 { try? registry.register(module: "t", name: "late\(i)") { _ in .ok } }
            let reply = d.handle(#"{"jsonrpc":"2.0","method":"count","params":["\#(i)"],"id":\#(i)}"#)
            if reply != #"{"jsonrpc":"2.0","result":\#(i),"id":\#(i)}"# { failures.wrappingAdd(1, ordering: .relaxed) }
        }
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
        XCTAssertEqual(calls.value, 400)
        XCTAssertNotNil(registry.lookup("late350"))
    }
}
