// t_get_branch_idx_by_attr: the index of a branch of the transaction by its $tm.branch.attr value.
import SwitchyardPluginKit

extension TM {
    /// attr, [string value], [integer value], [$out], [offset]: the first branch from `offset` (absolute, over every
    /// forking round) holding `attr` (with that value, when one is given; the string one when both are), whatever its
    /// state. 1 found ($out = its index), -1 none or no transaction.
    func tGetBranchIdxByAttr(_ call: FunctionCall) -> Int32 {
        guard let c = existingTxn(call.context)?.cell else { return -1 }
        let name = call.string(0)
        let want: SYValue? = call.isPresent(1) ? .string(call.string(1)) : call.isPresent(2) ? .int(call.int(2)) : nil
        let from = max(0, Int(call.int(4)))
        let found: Int? = table.withBucket(c.hashIndex) {
            guard from < c.branches.count else { return nil }
            for b in c.branches[from...] {
                guard let v = b.script?.attrs[name] else { continue }
                guard let want else { return b.index }
                switch (want, v) {
                case (.string(let w), .string(let s)) where w == s: return b.index
                case (.int(let w), .int(let i)) where w == i: return b.index
                default: continue
                }
            }
            return nil
        }
        guard let idx = found else { return -1 }
        if call.isPresent(3) { call.set(3, .int(Int64(idx))) }
        return 1
    }
}
