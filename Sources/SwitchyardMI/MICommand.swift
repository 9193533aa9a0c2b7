/// One MI command as exported by the core or a module (OpenSIPS `mi_export_t`).
public struct MICommand: Sendable {
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// Positional params are refused (OpenSIPS `MI_NAMED_PARAMS_ONLY`, same value).
        public static let namedParamsOnly = Flags(rawValue: 2)
    }

    public typealias Handler = @Sendable (MIRequestParams) throws -> MIResult
    public typealias AsyncHandler = @Sendable (MIRequestParams) async throws -> MIResult
    /// A handler that answers through the responder, now or later from any thread (see `MIResponder`).
    public typealias DeferredHandler = @Sendable (MIRequestParams, MIResponder) -> Void

    /// Sync handlers run on the transport's thread; async ones (OpenSIPS `MI_ASYNC_RPL_FLAG`
    /// commands, e.g. waiting for a remote answer) are awaited.
    public enum Body: Sendable {
        case sync(Handler)
        case async(AsyncHandler)
        /// Answers through the responder; the caller's thread is not held while the answer is awaited (the
        /// completion-style dispatcher entry), except by the synchronous entry points, which wait for it.
        case deferred(DeferredHandler)
    }

    /// Exporting module (`core`, `statistics`, or a module name); shown by `help`.
    public let module: String
    /// The main name: the 3.x flat name such as `ps` or `get_statistics`.
    public let name: String
    /// Further names reaching the same command, e.g. the 4.0 `statistics:get`.
    public let aliases: [String]
    public let help: String
    public let flags: Flags
    /// Accepted parameter-name lists; the dispatcher picks one per call (`[[]]` = no params).
    public let recipes: [[String]]
    public let body: Body

    /// `aliases: nil` means "the 4.0 qualified name `module:name`" so both opensips-cli
    /// generations find every command; pass `[]` for none.
    public init(
        module: String, name: String, help: String = "", flags: Flags = [],
        recipes: [[String]] = [[]], aliases: [String]? = nil, body: Body
    ) {
        self.module = module
        self.name = name
        self.aliases = aliases ?? (name.contains(":") ? [] : ["\(module):\(name)"])
        self.help = help
        self.flags = flags
        self.recipes = recipes
        self.body = body
    }

    public init(
        module: String, name: String, help: String = "", flags: Flags = [],
        recipes: [[String]] = [[]], aliases: [String]? = nil, handler: @escaping Handler
    ) {
        self.init(module: module, name: name, help: help, flags: flags, recipes: recipes, aliases: aliases,
                  body: .sync(handler))
    }

    public init(
        module: String, name: String, help: String = "", flags: Flags = [],
        recipes: [[String]] = [[]], aliases: [String]? = nil, asyncHandler: @escaping AsyncHandler
    ) {
        self.init(module: module, name: name, help: help, flags: flags, recipes: recipes, aliases: aliases,
                  body: .async(asyncHandler))
    }

    /// Every name the command answers to: the main name first.
    public var names: [String] { [name] + aliases }
}
