/// `{s.eval}`: the value read as a format string, its variables printed as xlog prints them
/// (`$var(greeting){s.eval}` with greeting = "Hello, $var(who)!" gives "Hello, client!").
///
/// The text is only known at run time, so it is parsed on every use, as OpenSIPS does. It is parsed on a worker's
/// thread, so it may use only the core's variables and transformations; a `$var`/`$avp` name the script never uses
/// reads as null without being added to the slot tables (ScriptEngine.checkRuntime says why). A text that uses a
/// module's variable or is not a valid format string (an unknown variable, unbalanced parentheses) fails the
/// transformation, and the variable then reads as null.
enum EvalTransform {
    static func make() -> Transform {
        Transform(name: "eval") { v, ctx in
            guard let text = v.stringForm else { return nil }
            guard text.utf8.contains(36) else { return .str(text) }  // no '$': nothing to evaluate
            let format: FormatString
            do throws(PVResolveError) {
                format = try FormatString.parse(text, engine: ctx.engine, atRuntime: true)
            } catch {
                ctx.engine.log.error("{s.eval}: cannot evaluate <\(text)>: \(error.message)")
                return nil
            }
            return .str(format.render(ctx))
        }
    }
}
