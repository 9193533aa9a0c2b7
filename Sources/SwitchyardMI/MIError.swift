/// An MI error reply: JSON-RPC `error` member (`code`, `message`, optional `data`).
///
/// Handlers may `throw` one (or return `.error`); the dispatcher turns it into the reply. The
/// constants below carry the exact texts of OpenSIPS's MI errors, which opensips-cli shows as
/// `code: message (data)` and scripts may match on.
public struct MIError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int
    public let message: String
    public let data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String {
        data.map { "\(code): \(message) (\($0.stringValue ?? $0.description))" } ?? "\(code): \(message)"
    }

    // MARK: JSON-RPC 2.0 codes

    public static let parseError = MIError(code: -32700, message: "Parse error")
    public static let invalidRequest = MIError(code: -32600, message: "Invalid Request")
    public static let methodNotFound = MIError(code: -32601, message: "Method not found")

    public static func invalidParams(_ data: String) -> MIError {
        MIError(code: -32602, message: "Invalid params", data: .string(data))
    }

    public static func serverError(_ data: String) -> MIError {
        MIError(code: -32000, message: "Server error", data: .string(data))
    }

    // MARK: Parameter problems

    public static func badType(_ parameter: String) -> MIError {
        invalidParams("Bad type for parameter '\(parameter)'")
    }

    public static func emptyArray(_ parameter: String) -> MIError {
        invalidParams("Empty array in parameter '\(parameter)'")
    }

    /// A parameter the handler asked for is not in the matched recipe / request.
    public static let missingParameter = serverError("Failed to handle parameter")

    /// A handler returned nothing (OpenSIPS: handler returned NULL).
    public static let handlerReturnedNull = serverError("Command handler returned null")

    // MARK: Recipe selection

    public static let namedParamsOnly = invalidParams("Command only supports named parameters")
    public static let ambiguousCall = invalidParams("Ambiguous call, use named parameters instead")
    public static let wrongParamCount = invalidParams("Too few or too many parameters")
    public static let namedParamsMismatch = invalidParams("Named parameters do not match")

    // MARK: Command-level (non JSON-RPC) codes used by core commands

    public static let unknownCommand = MIError(code: 404, message: "unknown MI command")
    public static let statisticsNotFound = MIError(code: 404, message: "Statistics Not Found")
    public static let badParameterValue = MIError(code: 400, message: "Bad parameter value")
}
