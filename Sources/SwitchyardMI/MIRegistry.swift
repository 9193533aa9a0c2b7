import Synchronization

public enum MIRegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The name (main or alias) is already taken by another command.
    case duplicateName(String)
    /// Empty name or one containing whitespace.
    case invalidName(String)
    /// No recipe, an empty or repeated parameter name, or two recipes with the same names.
    case invalidRecipes(command: String, reason: String)

    public var description: String {
        switch self {
        case .duplicateName(let n): return "MI command name '\(n)' is already registered"
        case .invalidName(let n): return "invalid MI command name '\(n)'"
        case .invalidRecipes(let c, let r): return "MI command '\(c)': \(r)"
        }
    }
}

/// All MI commands, thread-safe. Registration may happen at any time (modules register after
/// their init, dynamic modules later); lookups come from several transport threads at once.
///
/// Lookup: every name, main or alias, is matched exactly. A name containing `:` is
/// therefore a 4.0 `module:name`, a bare name a 3.x flat name. Because flat and qualified names are
/// separate keys there is never an ambiguous match (4.0's -32001 cannot happen).
public final class MIRegistry: Sendable {
    private struct State {
        var commands: [MICommand] = []
        var byName: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func register(_ command: MICommand) throws(MIRegistryError) {
        try Self.validate(command)
        try state.withLock { (state) throws(MIRegistryError) in
            for name in command.names where state.byName[name] != nil {
                throw MIRegistryError.duplicateName(name)
            }
            let at = state.commands.count
            state.commands.append(command)
            for name in command.names { state.byName[name] = at }
        }
    }

    /// Convenience: build and register a synchronous command.
    public func register(
        module: String, name: String, help: String = "", flags: MICommand.Flags = [],
        recipes: [[String]] = [[]], aliases: [String]? = nil, handler: @escaping MICommand.Handler
    ) throws(MIRegistryError) {
        try register(MICommand(module: module, name: name, help: help, flags: flags, recipes: recipes,
                               aliases: aliases, handler: handler))
    }

    public func lookup(_ name: String) -> MICommand? {
        state.withLock { state in state.byName[name].map { state.commands[$0] } }
    }

    /// Commands in registration order.
    public var commands: [MICommand] { state.withLock { $0.commands } }

    /// What `which` lists: all flat names, then all qualified (`module:name`) names, each group in
    /// registration order, so both opensips-cli generations accept every command.
    public var allNames: [String] {
        let names = commands.flatMap(\.names)
        return names.filter { !$0.contains(":") } + names.filter { $0.contains(":") }
    }

    private static func validate(_ command: MICommand) throws(MIRegistryError) {
        for name in command.names where name.isEmpty || name.contains(where: { $0.isWhitespace }) {
            throw MIRegistryError.invalidName(name)
        }
        if Set(command.names).count != command.names.count {
            throw MIRegistryError.duplicateName(command.name)
        }
        guard !command.recipes.isEmpty else {
            throw MIRegistryError.invalidRecipes(command: command.name, reason: "no recipe")
        }
        var seen = Set<Set<String>>()
        for recipe in command.recipes {
            let names = Set(recipe)
            if names.count != recipe.count || names.contains("") {
                throw MIRegistryError.invalidRecipes(command: command.name, reason: "empty or repeated parameter name")
            }
            if !seen.insert(names).inserted {
                throw MIRegistryError.invalidRecipes(command: command.name, reason: "two recipes with the same parameters")
            }
        }
    }
}
