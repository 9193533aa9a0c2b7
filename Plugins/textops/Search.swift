// search and search_body: read-only tests of the message as received.
import SwitchyardPluginKit

extension TextOps {
    /// search(re): 1 when the expression matches the message (first line, headers and body); search_body(re): the
    /// body. -1 otherwise, also when there is no body.
    func search(_ call: FunctionCall, body: Bool) -> Int32 {
        let fn = body ? "search_body" : "search"
        guard let text = host.varString(call.context, body ? v.body : v.message), !text.isEmpty else { return -1 }
        guard let re = regex(call, 0, fn) else { return -1 }
        return re.matches(text) ? 1 : -1
    }
}
