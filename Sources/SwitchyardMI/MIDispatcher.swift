/// Turns one JSON-RPC 2.0 request into its reply, exactly as OpenSIPS does.
///
/// Transport-agnostic and stateless apart from the registry: FIFO, HTTP and datagram transports
/// call `handle` concurrently from their own threads. The text reply is compact (one line, no
/// trailing newline) unless `style` is `.pretty`; `nil` means "send nothing" (a notification).
///
/// Two flavours of every entry point:
/// - synchronous (`handle(_:)`): for transport threads; an async command is run on the Swift
///   concurrency pool and the calling thread blocks until it finishes, so never call the
///   synchronous form from inside a Swift concurrency task;
/// - `async` (`await handle(_:)`): for transports living in Swift concurrency; sync commands run
///   inline, async ones are awaited.
public struct MIDispatcher: Sendable {
    public let registry: MIRegistry
    public var style: JSONSerializer.Style
    public var parser: JSONParser

    public init(registry: MIRegistry, style: JSONSerializer.Style = .compact, parser: JSONParser = JSONParser()) {
        self.registry = registry
        self.style = style
        self.parser = parser
    }

    // MARK: Text in, text out

    public func handle(_ request: String) -> String? {
        render(response(parsed: Result { () throws(JSONParseError) in try parser.parse(request) }))
    }

    public func handle(_ request: some Collection<UInt8>) -> String? {
        render(response(parsed: Result { () throws(JSONParseError) in try parser.parse(request) }))
    }

    public func handle(_ request: String) async -> String? {
        render(await response(parsed: Result { () throws(JSONParseError) in try parser.parse(request) }))
    }

    public func handle(_ request: some Collection<UInt8>) async -> String? {
        render(await response(parsed: Result { () throws(JSONParseError) in try parser.parse(request) }))
    }

    /// The completion form, for transports that must not hold a thread while a command answers later (a deferred
    /// command such as tm's `t_uac_dlg`): `done` runs exactly once with the reply text, or nil for a notification;
    /// on this thread when the answer is ready at once, else on the thread that gives it.
    public func handle(_ request: some Collection<UInt8>, done: @escaping @Sendable (String?) -> Void) {
        let parsed = Result { () throws(JSONParseError) in try parser.parse(request) }
        let style = style
        switch parsed {
        case .failure:
            done(JSONSerializer.serialize(MIReply.error(.parseError, id: .null), style: style))
        case .success(let request):
            response(to: request) { reply in done(reply.map { JSONSerializer.serialize($0, style: style) }) }
        }
    }

    /// The reply to an already-parsed request through `done` (nil for a notification, always before this returns),
    /// as `handle(_:done:)`.
    public func response(to request: JSONValue, done: @escaping @Sendable (JSONValue?) -> Void) {
        switch prepare(request) {
        case .reply(let reply): done(reply)
        case .call(let call) where call.isNotification:
            // Nothing to answer: the caller learns it at once, whenever the command itself finishes.
            done(nil)
            MIInvocation.run(call.command, call.params) { _ in }
        case .call(let call): MIInvocation.run(call.command, call.params) { done(call.reply(to: $0)) }
        }
    }

    // MARK: Structured (the reply as a JSON tree; also what tests inspect)

    /// The reply to an already-parsed request; nil for a notification.
    public func response(to request: JSONValue) -> JSONValue? {
        switch prepare(request) {
        case .reply(let reply): return reply
        case .call(let call): return call.reply(to: MIInvocation.run(call.command, call.params))
        }
    }

    public func response(to request: JSONValue) async -> JSONValue? {
        switch prepare(request) {
        case .reply(let reply): return reply
        case .call(let call): return call.reply(to: await MIInvocation.run(call.command, call.params))
        }
    }

    /// The reply to request text, including the -32700 reply for text that is not JSON.
    public func response(toText request: String) -> JSONValue? {
        response(parsed: Result { () throws(JSONParseError) in try parser.parse(request) })
    }

    // MARK: Steps

    private func response(parsed: Result<JSONValue, JSONParseError>) -> JSONValue? {
        switch parsed {
        case .success(let request): return response(to: request)
        case .failure: return MIReply.error(.parseError, id: .null)
        }
    }

    private func response(parsed: Result<JSONValue, JSONParseError>) async -> JSONValue? {
        switch parsed {
        case .success(let request): return await response(to: request)
        case .failure: return MIReply.error(.parseError, id: .null)
        }
    }

    private func render(_ reply: JSONValue?) -> String? {
        reply.map { JSONSerializer.serialize($0, style: style) }
    }

    private struct Call: Sendable {
        let command: MICommand
        let params: MIRequestParams
        let id: JSONValue
        let isNotification: Bool

        func reply(to result: MIResult) -> JSONValue? {
            isNotification ? nil : MIReply.make(result, id: id)
        }
    }

    private enum Step {
        case reply(JSONValue?)
        case call(Call)
    }

    /// Validation, lookup and recipe selection: everything before the handler runs.
    private func prepare(_ request: JSONValue) -> Step {
        guard case .object(let object) = request else {
            return .reply(MIReply.error(.invalidRequest, id: .null))
        }
        // A missing id makes a notification; an id of the wrong type is echoed as null.
        let rawID = object["id"]
        let isNotification = rawID == nil
        var id = JSONValue.null
        var idIsValid = true
        switch rawID {
        case .none: break
        case .some(.string), .some(.int), .some(.double), .some(.null): id = rawID!
        case .some: idIsValid = false
        }

        let storage: MIRequestParams.Storage
        switch object["params"] {
        case .none: storage = .none
        case .some(.array(let values)): storage = values.isEmpty ? .none : .positional(values)
        case .some(.object(let named)): storage = named.isEmpty ? .none : .named(named)
        case .some: return .reply(MIReply.error(.invalidRequest, id: id))
        }
        guard idIsValid, object["jsonrpc"] == .string("2.0"), case .string(let method)? = object["method"] else {
            // -32600 is answered even for notifications (the request could not be trusted).
            return .reply(MIReply.error(.invalidRequest, id: id))
        }

        guard let command = registry.lookup(method) else {
            return .reply(isNotification ? nil : MIReply.error(.methodNotFound, id: id))
        }
        switch MIRecipeSelection.select(command, storage: storage) {
        case .failure(let error):
            return .reply(isNotification ? nil : MIReply.error(error, id: id))
        case .success(let params):
            return .call(Call(command: command, params: params, id: id, isNotification: isNotification))
        }
    }
}
