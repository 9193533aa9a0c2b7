/// `$argv(name)`: the value of `-o name=value` on the command line; null when not given or given empty (`-o name=`,
/// as OpenSIPS's add_arg_var keeps no value then). The name is matched as written.
enum ArgvPV {
    static let cls = PVClass(name: "argv", needsInner: true) { inner, engine in
        let value = engine.argv[inner!].flatMap { $0.isEmpty ? nil : Value.str($0) } ?? .null
        return ComputedPV { _ in value }
    }
}
