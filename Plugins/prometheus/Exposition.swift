// The Prometheus text format (version 0.0.4) of the server's statistics, named and typed as OpenSIPS's prometheus
// module names and types them.

struct PromSettings: Sendable {
    var root = "metrics"
    var prefix = "opensips"
    var groupPrefix = ""
    var delimiter = "_"
    var groupLabel = "group"
    /// 0: no group; 1: the group in the name; 2: the group as a label.
    var groupMode = 0
    /// The `statistics` selectors ("all", "group:", "name"); empty = nothing exported (as OpenSIPS).
    var statistics: [String] = []
}

/// One statistic as the core reports it.
struct StatSample: Sendable {
    let group: String
    let name: String
    let value: Int64
    /// Non-incremental statistics (functions, non-resettable ones) are gauges, the rest counters.
    let isGauge: Bool
}

enum Exposition {
    /// Characters outside [a-zA-Z0-9_:] become '_' (a metric name's grammar).
    static func sanitized(_ s: String) -> String {
        String(s.unicodeScalars.map { c -> Character in
            switch c {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ":": return Character(c)
            default: return "_"
            }
        })
    }

    /// The page, laid out as OpenSIPS lays it out: the statistics no labels rule renames first, each with its TYPE line,
    /// in `samples` order; then the metrics labels rules merged, one TYPE line each, newest metric name first and, under
    /// it, the newest statistic first (OpenSIPS pushes both on the head of a list). The server adds the script route's
    /// metrics and the final empty line.
    static func render(_ samples: [StatSample], _ cfg: PromSettings, rules: [LabelRule]) -> String {
        var out = ""
        var plainSeen = Set<String>()
        var labelled: [(name: String, type: String, samples: [String])] = []
        for s in samples {
            var name = s.name
            var labels: [String] = []
            let hit = firstMatch(rules, s)
            if let hit {
                name = hit.name
                labels.append(hit.labels)
            }
            var prefix = cfg.prefix
            if cfg.prefix.isEmpty && cfg.delimiter.isEmpty && cfg.groupMode == 0, name.first?.isNumber == true { prefix = "_" }
            var full = prefix + cfg.delimiter
            if cfg.groupMode == 1 { full += cfg.groupPrefix + s.group + cfg.delimiter }
            full = sanitized(full + name)
            if cfg.groupMode == 2 { labels.append("\(cfg.groupLabel)=\"\(cfg.groupPrefix)\(s.group)\"") }
            let line = labels.isEmpty ? "\(full) \(s.value)" : "\(full){\(labels.joined(separator: ","))} \(s.value)"
            let type = s.isGauge ? "gauge" : "counter"
            guard hit != nil else {
                // Two statistics whose names sanitize alike keep one TYPE line (Prometheus refuses a repeated one).
                if plainSeen.insert(full).inserted { out += "# TYPE \(full) \(type)\n" }
                out += line + "\n"
                continue
            }
            if let i = labelled.firstIndex(where: { $0.name == full }) {
                labelled[i].samples.insert(line, at: 0)
                labelled[i].type = type // the TYPE comes from the statistic printed first: the newest
            } else {
                labelled.insert((full, type, [line]), at: 0)
            }
        }
        for g in labelled {
            out += "# TYPE \(g.name) \(g.type)\n"
            for line in g.samples { out += line + "\n" }
        }
        return out
    }

    /// The first rule of the sample's group whose regex matches (rules are tried in the order of the script).
    private static func firstMatch(_ rules: [LabelRule], _ s: StatSample) -> (name: String, labels: String)? {
        let g = s.group.lowercased()
        for r in rules where r.group == g {
            if let hit = r.apply(s.name) { return hit }
        }
        return nil
    }
}
