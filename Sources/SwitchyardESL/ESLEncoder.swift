/// Builds wire bytes for both directions. Stateless.
public enum ESLEncoder {
    // MARK: client → server

    /// `<line>\n[Name: value\n]*\n[body]`; a body adds its `Content-Length` header automatically
    /// (unless one is given).
    public static func command(_ line: String, headers: [ESLHeader] = [], body: [UInt8]? = nil) -> [UInt8] {
        var out = Array(line.utf8)
        out.append(0x0A)
        for h in headers {
            out.append(contentsOf: Array("\(h.name): \(h.value)\n".utf8))
        }
        if let body, !headers.contains(where: { $0.name.caseInsensitiveEquals("Content-Length") }) {
            out.append(contentsOf: Array("Content-Length: \(body.count)\n".utf8))
        }
        out.append(0x0A)
        if let body { out.append(contentsOf: body) }
        return out
    }

    public static func auth(password: String) -> [UInt8] { command("auth \(password)") }
    /// `userauth user@domain:password` (the domain is mandatory for FreeSWITCH).
    public static func userauth(user: String, domain: String, password: String) -> [UInt8] {
        command("userauth \(user)@\(domain):\(password)")
    }
    /// `event <format> NAME... [CUSTOM subclass...]`.
    public static func event(_ format: ESLEventFormat = .json, names: [String], customSubclasses: [String] = []) -> [UInt8] {
        command((["event", format.rawValue] + names + (customSubclasses.isEmpty ? [] : ["CUSTOM"] + customSubclasses)).joined(separator: " "))
    }
    public static func nixevent(names: [String], customSubclasses: [String] = []) -> [UInt8] {
        command((["nixevent"] + names + (customSubclasses.isEmpty ? [] : ["CUSTOM"] + customSubclasses)).joined(separator: " "))
    }
    public static func noevents() -> [UInt8] { command("noevents") }
    public static func myevents(uuid: String? = nil, format: ESLEventFormat? = nil) -> [UInt8] {
        command((["myevents"] + [uuid, format?.rawValue].compactMap { $0 }).joined(separator: " "))
    }
    public static func filter(header: String, value: String) -> [UInt8] { command("filter \(header) \(value)") }
    public static func filterDelete(header: String, value: String? = nil) -> [UInt8] {
        command("filter delete \(header)" + (value.map { " \($0)" } ?? ""))
    }
    public static func api(_ cmd: String) -> [UInt8] { command("api \(cmd)") }
    public static func bgapi(_ cmd: String, jobUUID: String? = nil) -> [UInt8] {
        command("bgapi \(cmd)", headers: jobUUID.map { [ESLHeader("Job-UUID", $0)] } ?? [])
    }
    public static func exit() -> [UInt8] { command("exit") }
    public static func log(level: String? = nil) -> [UInt8] { command("log" + (level.map { " \($0)" } ?? "")) }
    public static func nolog() -> [UInt8] { command("nolog") }
    public static func linger(seconds: Int? = nil) -> [UInt8] { command("linger" + (seconds.map { " \($0)" } ?? "")) }
    public static func nolinger() -> [UInt8] { command("nolinger") }

    // MARK: server → client

    /// Headers in the given order, blank line, body (no automatic Content-Length).
    public static func frame(_ headers: [ESLHeader], body: [UInt8] = []) -> [UInt8] {
        ESLFrame(headers: headers, body: body).encoded()
    }

    /// `Content-Type: auth/request\n\n`
    public static func authRequest() -> [UInt8] { frame([ESLHeader("Content-Type", "auth/request")]) }

    /// `Content-Type: command/reply\nReply-Text: <text>\n[extra]\n`
    public static func commandReply(_ replyText: String, extraHeaders: [ESLHeader] = []) -> [UInt8] {
        frame([ESLHeader("Content-Type", "command/reply"), ESLHeader("Reply-Text", replyText)] + extraHeaders)
    }

    /// bgapi reply: `+OK Job-UUID: <id>` plus a separate `Job-UUID` header.
    public static func bgapiReply(jobUUID: String) -> [UInt8] {
        commandReply("+OK Job-UUID: \(jobUUID)", extraHeaders: [ESLHeader("Job-UUID", jobUUID)])
    }

    /// `Content-Type: api/response\nContent-Length: N\n\n<body>`
    public static func apiResponse(_ body: String) -> [UInt8] {
        let b = Array(body.utf8)
        return frame([ESLHeader("Content-Type", "api/response"), ESLHeader("Content-Length", String(b.count))], body: b)
    }

    public static let goodbyeText = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    public static let shutdownText = "The system is being shut down.\n"

    /// `Content-Type: text/disconnect-notice\n[Controlled-Session-UUID, Content-Disposition]\nContent-Length: N\n\n<text>`
    public static func disconnectNotice(_ text: String = goodbyeText, controlledSessionUUID: String? = nil, disposition: String? = nil) -> [UInt8] {
        var h = [ESLHeader("Content-Type", "text/disconnect-notice")]
        if let controlledSessionUUID { h.append(ESLHeader("Controlled-Session-UUID", controlledSessionUUID)) }
        if let disposition { h.append(ESLHeader("Content-Disposition", disposition)) }
        let b = Array(text.utf8)
        h.append(ESLHeader("Content-Length", String(b.count)))
        return frame(h, body: b)
    }

    /// `Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n`
    public static func rudeRejection(_ text: String = "Access Denied, go away.\n") -> [UInt8] {
        let b = Array(text.utf8)
        return frame([ESLHeader("Content-Type", "text/rude-rejection"), ESLHeader("Content-Length", String(b.count))], body: b)
    }

    /// A log/data frame (header values raw, as FreeSWITCH sends them).
    public static func logData(_ text: String, level: Int, textChannel: Int = 3, file: String, function: String, line: Int, userData: String = "") -> [UInt8] {
        let b = Array(text.utf8)
        return frame([
            ESLHeader("Content-Type", "log/data"), ESLHeader("Content-Length", String(b.count)),
            ESLHeader("Log-Level", String(level)), ESLHeader("Text-Channel", String(textChannel)),
            ESLHeader("Log-File", file), ESLHeader("Log-Func", function), ESLHeader("Log-Line", String(line)),
            ESLHeader("User-Data", userData),
        ], body: b)
    }

    /// An event frame: `Content-Length: N\nContent-Type: text/event-<fmt>\n\n<payload>`.
    public static func event(_ event: ESLEvent, format: ESLEventFormat) -> [UInt8] {
        let p = event.payload(format)
        var out = Array("Content-Length: \(p.count)\nContent-Type: text/event-\(format.rawValue)\n\n".utf8)
        out.append(contentsOf: p)
        return out
    }
}
