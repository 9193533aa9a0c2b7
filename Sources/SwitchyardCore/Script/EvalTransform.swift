/// `{s.eval}`: the value read as a format string, its variables printed as xlog prints them
/// (`$var(greeting){s.eval}` with greeting = "Hello, $var(who)!" gives "Hello, client!").
///
/// The text is only known at run time, so it is parsed on every use; a text that is not a valid format string (an
/// unknown variable, unbalanced parentheses) fails the transformation, and the variable then reads as null.
enum EvalTransform {
    static func make() -> Transform {
        Transform(name: "eval") { v, ctx in
            guard let text = v.stringForm else { return nil }
            guard text.utf8.contains(36) else { return .str(text) }  // no '$': nothing to evaluate
            let format: FormatString
            do throws(PVResolveError) {
                format = try FormatString.parse(text, engine: ctx.engine)
            } catch {
                ctx.engine.log.error("{s.eval}: cannot evaluate <\(text)>: \(error.message)")
                return nil
            }
            return .str(format.render(ctx))
        }
    }
}
