/// What a command handler returns.
public enum MIResult: Sendable, Equatable {
    /// Success: becomes the reply's `result` member.
    case result(JSONValue)
    /// Failure: becomes the reply's `error` member.
    case error(code: Int, message: String, data: JSONValue? = nil)
    /// The handler could not produce anything (OpenSIPS: handler returned NULL):
    /// -32000 "Server error", data "Command handler returned null".
    case serverError

    /// OpenSIPS `init_mi_result_ok()`: the string "OK".
    public static let ok = MIResult.result("OK")

    public static func error(_ error: MIError) -> MIResult {
        .error(code: error.code, message: error.message, data: error.data)
    }
}
