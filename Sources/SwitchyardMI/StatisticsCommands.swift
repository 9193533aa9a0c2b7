extension MIRegistry {
    /// Registers `get_statistics`, `list_statistics`, `reset_statistics` and
    /// `reset_all_statistics` (module `statistics`, 4.0 aliases `statistics:get|list|reset|reset_all`).
    public func registerStatisticsCommands(_ stats: StatsRegistry) throws(MIRegistryError) {
        try register(
            module: "statistics", name: "get_statistics",
            help: "Prints the value of the given statistics: names, 'group:' or 'all'",
            recipes: [["statistics"]], aliases: ["statistics:get"]
        ) { params in
            let selected = stats.select(try params.stringArray("statistics"))
            guard !selected.isEmpty else { return .error(.statisticsNotFound) }
            return .result(.object(JSONObject(selected.map { ($0.qualifiedName, .int($0.value)) })))
        }

        try register(
            module: "statistics", name: "list_statistics",
            help: "Lists statistics as incremental or non-incremental",
            recipes: [[], ["statistics"]], aliases: ["statistics:list"]
        ) { params in
            let selected: [Stat]
            if params.has("statistics") {
                selected = stats.select(try params.stringArray("statistics"), allowAll: false)
                guard !selected.isEmpty else { return .error(.statisticsNotFound) }
            } else {
                selected = stats.all.filter { !$0.flags.contains(.hidden) }
            }
            return .result(.object(JSONObject(selected.map {
                ($0.qualifiedName, .string($0.isIncremental ? "incremental" : "non-incremental"))
            })))
        }

        try register(
            module: "statistics", name: "reset_statistics",
            help: "Resets the given statistics (single names only)",
            recipes: [["statistics"]], aliases: ["statistics:reset"]
        ) { params in
            // Only single stats: `name` or `group:name`; `group:` and `all` are not names.
            let found = try params.stringArray("statistics").compactMap { item -> Stat? in
                guard let colon = item.firstIndex(of: ":") else { return stats.stat(named: item) }
                let name = item[item.index(after: colon)...]
                return name.isEmpty ? nil : stats.stat(group: String(item[..<colon]), name: String(name))
            }
            guard !found.isEmpty else { return .error(.statisticsNotFound) }
            found.forEach { $0.reset() }
            return .ok
        }

        try register(
            module: "statistics", name: "reset_all_statistics",
            help: "Resets all resettable statistics",
            aliases: ["statistics:reset_all"]
        ) { _ in
            stats.resetAll()
            return .ok
        }
    }
}
