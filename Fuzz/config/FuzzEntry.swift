// libFuzzer entry point for the config lexer and parser (Sources/SwitchyardCore/Config): any text parses or gives
// diagnostics, never traps; every diagnostic can be printed (its quoted line, caret and password masking).
// Built with the Config sources in one module (see Fuzz/build.sh); no module loading, no resolver.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let diags = DiagnosticBag()
    let ast = Parser.parse(text: text, path: "fuzz.cfg", diagnostics: diags)
    _ = ast.routes.count
    for d in diags.items { _ = d.description }
    return 0
}
