/// Builds reply objects in OpenSIPS key order: `jsonrpc`, then `result` or `error`
/// (`code`, `message`[, `data`]), and `id` last, keeping the id's JSON type.
enum MIReply {
    static func make(_ result: MIResult, id: JSONValue) -> JSONValue {
        switch result {
        case .result(let value):
            return ["jsonrpc": "2.0", "result": value, "id": id]
        case .error(let code, let message, let data):
            return error(MIError(code: code, message: message, data: data), id: id)
        case .serverError:
            return error(.handlerReturnedNull, id: id)
        }
    }

    static func error(_ error: MIError, id: JSONValue) -> JSONValue {
        var body: JSONObject = ["code": .int(Int64(error.code)), "message": .string(error.message)]
        if let data = error.data { body["data"] = data }
        return ["jsonrpc": "2.0", "error": .object(body), "id": id]
    }
}
