// The OpenSIPS `sipmsgops` module as a Switchyard plugin: tests and edits of the SIP message a route runs on.
//
//   is_method  has_totag  append_hf  insert_hf (with or without an anchor header)  append_to_reply  append_urihf  remove_hf  remove_hf_re  remove_hf_glob  is_present_hf
//   has_body  has_body_part  is_privacy  ruri_has_param  ruri_add_param  ruri_del_param  ruri_tel2sip  is_uri_user_e164
//   list_hdr_has_option  append_time  sipmsg_validate  codec_exists  codec_exists_re  stream_exists  is_audio_on_hold
//   list_hdr_add_option  list_hdr_remove_option
//   codec_delete  codec_delete_re  codec_delete_except_re  codec_move_up  codec_move_up_re  codec_move_down
//   codec_move_down_re  stream_delete  change_reply_status  remove_body_part  add_body_part (ABI 1.16)
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "sipmsgops") else { return nil }
    guard host.provides(\.sip_info) else {
        host.log(.err, "this core has no SIP message access (needs ABI 1.7)")
        return nil
    }
    return SipMsgOps(host: host).build().pointer // allocated once, never freed
}

/// The pseudo-variables the functions read or write, resolved once at init.
struct MessageVars: Sendable {
    let ruri: SYVar         // $ru, read and written by the ruri_* functions
    let fromHost: SYVar     // $fd, for ruri_tel2sip
    let message: SYVar      // $mb, the header names remove_hf_re / remove_hf_glob walk
    let body: SYVar         // $rb
    let contentType: SYVar  // $cT
    let proto: SYVar        // $proto, for sipmsg_validate
}

final class SipMsgOps: Sendable {
    let host: PluginHost
    let vars = Mutex<MessageVars?>(nil)
    init(host: PluginHost) { self.host = host }

    /// OpenSIPS's route rules: most functions work wherever there is a message; the request-URI ones need a request.
    static let anyMessage: RouteMask = [.request, .onReply, .failure, .branch, .local]
    static let requestOnly: RouteMask = [.request, .failure, .branch, .local]

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "sipmsgops", version: "1.0.0", description: "SIP message operations")
        let any = SipMsgOps.anyMessage, req = SipMsgOps.requestOnly
        let opt: FunctionParam = [.str, .optional]
        m.function("is_method", params: [.str], routes: any) { [self] in isMethod($0) }
        m.function("has_totag", params: [], routes: any) { [self] in hasToTag($0) }
        m.function("append_hf", params: [.str, opt], routes: any) { [self] in addHeaders($0, atTop: false) }
        m.function("insert_hf", params: [.str, opt], routes: any) { [self] in addHeaders($0, atTop: true) }
        m.function("append_to_reply", params: [.str], routes: [.request, .branch, .failure, .error]) { [self] in appendToReply($0) }
        m.function("append_urihf", params: [.str, .str], routes: [.request, .failure, .branch]) { [self] in appendURIHeader($0) }
        m.function("remove_hf", params: [.str], routes: any) { [self] in removeHeader($0) }
        m.function("remove_hf_re", params: [.str], routes: any, fixup: SipMsgOps.checkRegex) { [self] in removeMatching($0, regex: true) }
        m.function("remove_hf_glob", params: [.str], routes: any) { [self] in removeMatching($0, regex: false) }
        m.function("is_present_hf", params: [.str], routes: any) { [self] in isPresent($0) }
        m.function("append_time", params: [], routes: req) { [self] in appendTime($0) }
        m.function("codec_exists", params: [.str, opt], routes: any) { [self] in codecExists($0) }
        m.function("codec_exists_re", params: [.str], routes: any, fixup: SipMsgOps.checkRegex) { [self] in codecExistsRegex($0) }
        m.function("stream_exists", params: [.str], routes: any, fixup: SipMsgOps.checkRegex) { [self] in streamExists($0) }
        m.function("is_audio_on_hold", params: [], routes: any) { [self] in isAudioOnHold($0) }
        let re = SipMsgOps.checkRegex
        m.function("codec_delete", params: [.str, opt], routes: any) { [self] in codecByName($0, "codec_delete", .delete) }
        m.function("codec_delete_re", params: [.str], routes: any, fixup: re) { [self] in codecByRegex($0, "codec_delete_re", .delete) }
        m.function("codec_delete_except_re", params: [.str], routes: any, fixup: re) {
            [self] in codecByRegex($0, "codec_delete_except_re", .delete, except: true)
        }
        m.function("codec_move_up", params: [.str, opt], routes: any) { [self] in codecByName($0, "codec_move_up", .moveUp) }
        m.function("codec_move_up_re", params: [.str], routes: any, fixup: re) { [self] in codecByRegex($0, "codec_move_up_re", .moveUp) }
        m.function("codec_move_down", params: [.str, opt], routes: any) { [self] in codecByName($0, "codec_move_down", .moveDown) }
        m.function("codec_move_down_re", params: [.str], routes: any, fixup: re) {
            [self] in codecByRegex($0, "codec_move_down_re", .moveDown)
        }
        m.function("stream_delete", params: [.str], routes: any, fixup: re) { [self] in streamDelete($0) }
        m.function("change_reply_status", params: [.int, .str], routes: [.onReply]) { [self] in changeReplyStatus($0) }
        m.function("remove_body_part", params: [opt, opt], routes: any) { [self] in removeBodyPart($0) }
        m.function("add_body_part", params: [.str, .str, opt], routes: any) { [self] in addBodyPart($0) }
        m.function("sipmsg_validate", params: [opt, [.var, .optional]], routes: [.request, .onReply, .failure, .branch]) {
            [self] in sipmsgValidate($0)
        }
        m.function("has_body", params: [opt], routes: any) { [self] in hasBody($0) }
        m.function("has_body_part", params: [opt], routes: any) { [self] in hasBody($0) }
        m.function("is_privacy", params: [.str], routes: any, fixup: SipMsgOps.checkPrivacy) { [self] in isPrivacy($0) }
        m.function("list_hdr_has_option", params: [.str, .str], routes: any) { [self] in listHeaderHasOption($0) }
        m.function("list_hdr_add_option", params: [.str, .str], routes: any) { [self] in listHeaderAddOption($0) }
        m.function("list_hdr_remove_option", params: [.str, .str], routes: any) { [self] in listHeaderRemoveOption($0) }
        m.function("ruri_has_param", params: [.str, opt], routes: req) { [self] in ruriHasParam($0) }
        m.function("ruri_add_param", params: [.str], routes: req) { [self] in ruriAddParam($0) }
        m.function("ruri_del_param", params: [.str], routes: req) { [self] in ruriDelParam($0) }
        m.function("ruri_tel2sip", params: [], routes: req) { [self] in ruriTel2Sip($0) }
        m.function("is_uri_user_e164", params: [.str], routes: [.request, .failure, .local]) { [self] in isURIUserE164($0) }
        m.onInit { [self] in
            let v = MessageVars(ruri: try host.varParse("$ru"), fromHost: try host.varParse("$fd"),
                                message: try host.varParse("$mb"), body: try host.varParse("$rb"),
                                contentType: try host.varParse("$cT"), proto: try host.varParse("$proto"))
            vars.withLock { $0 = v }
        }
        return m.build()
    }

    /// The resolved variables (set at init, before any route runs).
    var v: MessageVars {
        guard let v = vars.withLock({ $0 }) else { preconditionFailure("sipmsgops: a function ran before init") }
        return v
    }


    /// The core's identifying fields of the message, lent to `body` (its strings point into the message, valid during
    /// the call only: is_method and has_totag run on most requests and make no string); nil when there is no message.
    func withInfo<R>(_ ctx: SYContext, _ body: (sy_sip_info) -> R) -> R? {
        guard let f = host.raw.pointee.sip_info else { return nil }
        var out = sy_sip_info()
        guard f(ctx.raw, &out) == 0 else { return nil }
        return body(out)
    }
}
