extension MIRegistry {
    /// Registers the core MI commands (module `core`, each also reachable as `core:<name>`) and the
    /// statistics commands, with the result shapes of OpenSIPS 3.x.
    public func registerCoreCommands(hooks: MICoreHooks, stats: StatsRegistry) throws(MIRegistryError) {
        try registerIntrospectionCommands()
        try registerProcessCommands(hooks)
        try registerInfoCommands(hooks)
        try registerStatisticsCommands(stats)
    }

    /// `which` and `help`: they read this registry. Captured weakly: the registry owns the commands.
    private func registerIntrospectionCommands() throws(MIRegistryError) {
        try register(
            module: "core", name: "which",
            help: "Lists all MI commands, or the parameter sets of one command",
            recipes: [[], ["command"]]
        ) { [weak self] params in
            guard let self else { return .serverError }
            guard params.has("command") else { return .result(JSONValue(allNames)) }
            guard let command = lookup(try params.string("command")) else { return .error(.unknownCommand) }
            return .result(.array(command.recipes.map { JSONValue($0) }))
        }

        try register(
            module: "core", name: "help",
            help: "Prints the description and the exporting module of an MI command",
            recipes: [[], ["mi_cmd"]]
        ) { [weak self] params in
            guard let self else { return .serverError }
            guard params.has("mi_cmd") else {
                return .result("Usage: help mi_cmd - returns information about 'mi_cmd'")
            }
            guard let command = lookup(try params.string("mi_cmd")) else { return .error(.unknownCommand) }
            return .result(["Help": .string(command.help), "Exported by": .string(command.module)])
        }
    }

    private func registerProcessCommands(_ hooks: MICoreHooks) throws(MIRegistryError) {
        try register(module: "core", name: "ps", help: "Lists the server's processes") { _ in
            .result(["Processes": .array(hooks.processes().map {
                ["ID": JSONValue($0.id), "PID": JSONValue($0.pid), "Type": .string($0.type)]
            })])
        }

        try register(
            module: "core", name: "log_level",
            help: "Gets the log level of every process, or sets it globally or for one process",
            recipes: [[], ["level"], ["level", "pid"]]
        ) { params in
            guard params.has("level") else {
                return .result(["Processes": .array(hooks.processes().map {
                    ["PID": JSONValue($0.pid), "Log level": JSONValue($0.logLevel), "Type": .string($0.type)]
                })])
            }
            let level = try params.int("level")
            guard params.has("pid") else {
                guard hooks.setLogLevel(level, nil) else { return .error(.badParameterValue) }
                return .result(["New global log level": JSONValue(level)])
            }
            guard hooks.setLogLevel(level, try params.int("pid")) else { return .error(.invalidParams("Bad PID")) }
            return .result(["Log level": JSONValue(level)])
        }

        try register(module: "core", name: "kill", help: "Terminates the server") { _ in
            hooks.kill()
            return .ok
        }
    }

    private func registerInfoCommands(_ hooks: MICoreHooks) throws(MIRegistryError) {
        try register(
            module: "core", name: "version", help: "Prints the server version (and the source revision)",
            recipes: [[], ["revision"]]
        ) { params in
            var result: JSONObject = ["Server": .string(hooks.serverVersion)]
            if params.has("revision") { result[hooks.scmType] = .string(hooks.revision ?? "unknown") }
            return .result(.object(result))
        }

        try register(module: "core", name: "uptime", help: "Prints the server's start time and uptime") { _ in
            let now = hooks.now()
            let up = max(0, Int64(now.timeIntervalSince(hooks.startTime).rounded(.down)))
            return .result([
                "Now": .string(CTime.format(now)),
                "Up since": .string(CTime.format(hooks.startTime)),
                "Up time": .string("\(up) [sec]"),
            ])
        }

        try register(module: "core", name: "pwd", help: "Prints the working directory") { _ in
            .result(["WD": .string(hooks.workingDirectory())])
        }

        try register(module: "core", name: "arg", help: "Prints the command line arguments") { _ in
            .result(JSONValue(hooks.argv))
        }

        try register(module: "core", name: "list_modules", help: "Lists the loaded modules") { _ in
            .result(["Modules": .array(hooks.modules().map {
                ["Name": .string($0.name), "Version": .string($0.version), "ABI": .string($0.abi), "Path": .string($0.path)]
            })])
        }
    }
}
