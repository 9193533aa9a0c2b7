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

    static func render(_ samples: [StatSample], _ cfg: PromSettings, rules: [LabelRule]) -> String {
        // Metrics that labels rules merged under one name share one TYPE line: collect per final name, in order.
        var order: [String] = []
        var lines: [String: (type: String, samples: [String])] = [:]
        for s in samples {
            var name = s.name
            var labels: [String] = []
            if let r = firstMatch(rules, s) {
                name = r.name
                labels.append(r.labels)
            }
            var prefix = cfg.prefix
            if cfg.prefix.isEmpty && cfg.delimiter.isEmpty && cfg.groupMode == 0, name.first?.isNumber == true { prefix = "_" }
            var full = prefix + cfg.delimiter
            if cfg.groupMode == 1 { full += cfg.groupPrefix + s.group + cfg.delimiter }
            full = sanitized(full + name)
            if cfg.groupMode == 2 { labels.append("\(cfg.groupLabel)=\"\(cfg.groupPrefix)\(s.group)\"") }
            let line = labels.isEmpty ? "\(full) \(s.value)" : "\(full){\(labels.joined(separator: ","))} \(s.value)"
            if lines[full] == nil {
                order.append(full)
                lines[full] = (s.isGauge ? "gauge" : "counter", [])
            }
            lines[full]!.samples.append(line)
        }
        var out = ""
        for name in order {
            guard let l = lines[name] else { continue }
            out += "# TYPE \(name) \(l.type)\n"
            for sample in l.samples { out += sample + "\n" }
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
