// Time recurrences (dr_rules.timerec): the OpenSIPS 2.4 ten-field form and the 3.2+ twelve-field form with an optional
// time zone and `&` / `/` / `!` / parentheses expressions. Both are evaluated with RFC 5545 (1-indexed) by-rules; see
// README.md "Differences from OpenSIPS" for the 2.4 off-by-one bugs we do not copy.
import Foundation

/// Calendar arithmetic in one zone (server local time unless a 3.2+ `tz` field names one).
struct TRZone: Sendable {
    let calendar: Calendar

    init(_ tz: TimeZone) {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = tz
        c.firstWeekday = 2 // Monday
        c.minimumDaysInFirstWeek = 4 // ISO 8601 weeks
        calendar = c
    }

    static let local = TRZone(TimeZone.current)

    struct Parts {
        var year, month, day, hour, minute, second: Int
        var weekday: Int // 0 = Sunday ... 6 = Saturday (struct tm)
    }

    func parts(_ t: Int64) -> Parts {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday],
                                        from: Date(timeIntervalSince1970: TimeInterval(t)))
        return Parts(year: c.year!, month: c.month!, day: c.day!, hour: c.hour!, minute: c.minute!, second: c.second!,
                     weekday: c.weekday! - 1)
    }

    func make(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Int64 {
        var dc = DateComponents()
        dc.year = year; dc.month = month; dc.day = day; dc.hour = hour; dc.minute = minute; dc.second = second
        return Int64(calendar.date(from: dc)!.timeIntervalSince1970)
    }

    func daysInMonth(_ year: Int, _ month: Int) -> Int {
        let d = calendar.date(from: DateComponents(year: year, month: month, day: 1))!
        return calendar.range(of: .day, in: .month, for: d)!.count
    }

    func daysInYear(_ year: Int) -> Int {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 366 : 365
    }

    func dayOfYear(_ p: Parts) -> Int { // 1-based
        var n = p.day
        for m in 1..<p.month { n += daysInMonth(p.year, m) }
        return n
    }

    /// ISO 8601 week number and the number of ISO weeks in that week-year.
    func isoWeek(_ p: Parts) -> (week: Int, weeksInYear: Int, year: Int) {
        let d = calendar.date(from: DateComponents(year: p.year, month: p.month, day: p.day, hour: 12))!
        let w = calendar.component(.weekOfYear, from: d)
        let y = calendar.component(.yearForWeekOfYear, from: d)
        // A year has 53 ISO weeks when Dec 28 falls in week 53.
        let dec28 = calendar.date(from: DateComponents(year: y, month: 12, day: 28, hour: 12))!
        return (w, calendar.component(.weekOfYear, from: dec28), y)
    }

    /// The calendar date of a day number (inverse of dayNumber).
    static func civil(_ z: Int) -> (y: Int, m: Int, d: Int) {
        let z2 = z + 719468
        let era = (z2 >= 0 ? z2 : z2 - 146096) / 146097
        let doe = z2 - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// make() for a day number plus a time of day.
    func make(dayNo: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Int64 {
        let c = TRZone.civil(dayNo)
        return make(year: c.y, month: c.m, day: c.d, hour: hour, minute: minute, second: second)
    }

    /// Days from the epoch for a calendar date (timezone-free day count).
    static func dayNumber(_ y: Int, _ m: Int, _ d: Int) -> Int {
        // Howard Hinnant's days_from_civil.
        let y2 = m <= 2 ? y - 1 : y
        let era = (y2 >= 0 ? y2 : y2 - 399) / 400
        let yoe = y2 - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}

enum TRFreq: Sendable { case none, daily, weekly, monthly, yearly }

/// One recurrence (no operators).
struct Recurrence: Sendable {
    var zone = TRZone.local
    var dtstart: Int64 = 0
    var start = TRZone.Parts(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, weekday: 4)
    var dtend: Int64? = nil
    var duration: Int64? = nil
    var freq = TRFreq.none
    var until: Int64? = nil
    var interval = 1
    var byday: [(n: Int, wday: Int)] = []
    var bymonthday: [Int] = []
    var byyearday: [Int] = []
    var byweekno: [Int] = []
    var bymonth: [Int] = []
    var legacy = false // 2.4 form

    var hasBy: Bool { !byday.isEmpty || !bymonthday.isEmpty || !byyearday.isEmpty || !byweekno.isEmpty || !bymonth.isEmpty }

    func matches(_ t: Int64) -> Bool {
        if t < dtstart { return false }
        var dur: Int64
        if let d = duration { dur = d } else if let e = dtend { dur = e - dtstart } else {
            if legacy || freq == .none { return true } // 2.4: no duration = valid forever from dtstart
            // 3.x: the window runs to the end of dtstart's day/week/month/year.
            let s = start
            let sd = TRZone.dayNumber(s.year, s.month, s.day)
            let endOfPeriod: Int64
            switch freq {
            case .daily: endOfPeriod = zone.make(dayNo: sd + 1)
            case .weekly: endOfPeriod = zone.make(dayNo: sd + (7 - (s.weekday + 6) % 7))
            case .monthly: endOfPeriod = s.month == 12 ? zone.make(year: s.year + 1, month: 1, day: 1)
                                                       : zone.make(year: s.year, month: s.month + 1, day: 1)
            case .yearly: endOfPeriod = zone.make(year: s.year + 1, month: 1, day: 1)
            case .none: endOfPeriod = Int64.max
            }
            dur = endOfPeriod - dtstart
        }
        if dur <= 0 { return false }
        if t < dtstart + dur { return true } // inside the first occurrence
        if freq == .none { return false }
        if let u = until, t >= u + dur { return false }
        // Scan the candidate occurrence days that could cover t: from t's day back over the duration.
        let tp = zone.parts(t)
        let tDay = TRZone.dayNumber(tp.year, tp.month, tp.day)
        let back = min(Int(dur / 86400) + 1, 400)
        let startDay = TRZone.dayNumber(start.year, start.month, start.day)
        for k in 0...back {
            let dayNo = tDay - k
            if dayNo < startDay { break }
            let occ = zone.make(dayNo: dayNo, hour: start.hour, minute: start.minute, second: start.second)
            if occ > t || t >= occ + dur { continue }
            if occ < dtstart { continue }
            if let u = until, occ > u { continue }
            if dayMatches(zone.parts(occ), dayNo: dayNo, startDay: startDay) { return true }
        }
        return false
    }

    private func dayMatches(_ p: TRZone.Parts, dayNo: Int, startDay: Int) -> Bool {
        // Interval: whole days / weeks (Monday based) / months / years since dtstart.
        if interval > 1 {
            let n: Int
            switch freq {
            case .daily: n = dayNo - startDay
            case .weekly:
                let mondayOf = { (d: Int) -> Int in d - ((d + 3) % 7) } // 1970-01-01 was a Thursday
                n = (mondayOf(dayNo) - mondayOf(startDay)) / 7
            case .monthly: n = (p.year - start.year) * 12 + p.month - start.month
            case .yearly: n = p.year - start.year
            case .none: n = 0
            }
            if n % interval != 0 { return false }
        }
        // The occurrence's own unit: without by-rules narrowing it, the date must repeat dtstart's.
        switch freq {
        case .weekly:
            if byday.isEmpty && p.weekday != start.weekday { return false }
        case .monthly:
            if byday.isEmpty && bymonthday.isEmpty && byyearday.isEmpty && p.day != start.day { return false }
        case .yearly:
            if !hasBy && (p.month != start.month || p.day != start.day) { return false }
            if byday.isEmpty && bymonthday.isEmpty && byyearday.isEmpty && byweekno.isEmpty && !bymonth.isEmpty
                && p.day != start.day { return false }
        default: break
        }
        if !bymonth.isEmpty && !bymonth.contains(p.month) { return false }
        if !byweekno.isEmpty && freq == .yearly {
            let w = zone.isoWeek(p)
            if !byweekno.contains(where: { $0 > 0 ? $0 == w.week : w.weeksInYear + 1 + $0 == w.week }) { return false }
        }
        if !byyearday.isEmpty {
            let yd = zone.dayOfYear(p), ny = zone.daysInYear(p.year)
            if !byyearday.contains(where: { $0 > 0 ? $0 == yd : ny + 1 + $0 == yd }) { return false }
        }
        if !bymonthday.isEmpty {
            let nm = zone.daysInMonth(p.year, p.month)
            if !bymonthday.contains(where: { $0 > 0 ? $0 == p.day : nm + 1 + $0 == p.day }) { return false }
        }
        if !byday.isEmpty {
            let ok = byday.contains { bd in
                guard bd.wday == p.weekday else { return false }
                if bd.n == 0 || (freq != .monthly && freq != .yearly) { return true }
                if freq == .monthly {
                    let nth = (p.day - 1) / 7 + 1, fromEnd = (zone.daysInMonth(p.year, p.month) - p.day) / 7 + 1
                    return bd.n > 0 ? bd.n == nth : -bd.n == fromEnd
                }
                let yd = zone.dayOfYear(p)
                let nth = (yd - 1) / 7 + 1, fromEnd = (zone.daysInYear(p.year) - yd) / 7 + 1
                return bd.n > 0 ? bd.n == nth : -bd.n == fromEnd
            }
            if !ok { return false }
        }
        return true
    }
}

/// A timerec: a recurrence or an expression of them.
indirect enum TimeRec: Sendable {
    case rec(Recurrence)
    case not(TimeRec)
    case and([TimeRec])
    case or([TimeRec])

    func matches(_ t: Int64) -> Bool {
        switch self {
        case .rec(let r): return r.matches(t)
        case .not(let e): return !e.matches(t)
        case .and(let l): return l.allSatisfy { $0.matches(t) }
        case .or(let l): return l.contains { $0.matches(t) }
        }
    }

    /// Parses a timerec string; throws a message naming the problem.
    static func parse(_ text: String) throws(PluginErrorText) -> TimeRec {
        var p = ExprParser(chars: Array(text), pos: 0)
        let e = try p.expr()
        p.skipSpaces()
        if p.pos < p.chars.count { throw PluginErrorText("unexpected '\(p.chars[p.pos])' at \(p.pos + 1)") }
        return e
    }

    private struct ExprParser {
        let chars: [Character]
        var pos: Int

        mutating func skipSpaces() { while pos < chars.count && chars[pos].isWhitespace { pos += 1 } }

        /// Is the '/' at i an OR operator (and not a time-zone name's slash)?
        func slashIsOperator(_ i: Int) -> Bool {
            let before = i > 0 ? chars[i - 1] : " ", after = i + 1 < chars.count ? chars[i + 1] : " "
            return before.isWhitespace || after.isWhitespace || before == ")" || after == "(" || after == "!"
        }

        mutating func expr() throws(PluginErrorText) -> TimeRec {
            var items = [try term()]
            var op: Character? = nil
            while true {
                skipSpaces()
                guard pos < chars.count else { break }
                let c = chars[pos]
                guard c == "&" || (c == "/" && slashIsOperator(pos)) else { break }
                if let op, op != c { throw PluginErrorText("mixing '&' and '/' needs parentheses") }
                op = c
                pos += 1
                items.append(try term())
            }
            if items.count == 1 { return items[0] }
            return op == "&" ? .and(items) : .or(items)
        }

        mutating func term() throws(PluginErrorText) -> TimeRec {
            skipSpaces()
            guard pos < chars.count else { throw PluginErrorText("missing recurrence") }
            if chars[pos] == "!" { pos += 1; return .not(try term()) }
            if chars[pos] == "(" {
                pos += 1
                let e = try expr()
                skipSpaces()
                guard pos < chars.count, chars[pos] == ")" else { throw PluginErrorText("missing ')'") }
                pos += 1
                return e
            }
            var s = ""
            while pos < chars.count {
                let c = chars[pos]
                if c == "&" || c == ")" || c == "(" || (c == "/" && slashIsOperator(pos)) { break }
                s.append(c)
                pos += 1
            }
            let trimmed = s.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { throw PluginErrorText("empty recurrence") }
            return .rec(try parseRecurrence(trimmed))
        }
    }

    /// One recurrence, auto-detecting the 2.4 (`dtstart|duration|freq|...`) and 3.2+ (`[tz|]dtstart|dtend|duration|...`)
    /// forms: a leading time zone, or a dtend slot that is empty or a date followed by a duration/empty slot, means 3.2+.
    static func parseRecurrence(_ text: String) throws(PluginErrorText) -> Recurrence {
        var f = text.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var r = Recurrence()
        var modern = false
        if let first = f.first?.unicodeScalars.first, first.properties.isUppercase, first.isASCII {
            guard let tz = TimeZone(identifier: f[0]) else { throw PluginErrorText("unknown time zone '\(f[0])'") }
            r.zone = TRZone(tz)
            f.removeFirst()
            modern = true
        }
        if !modern && f.count >= 3 {
            let second = f[1], third = f[2]
            let secondIsDateOrEmpty = second.isEmpty || isDateTime(second)
            let thirdIsFreq = ["daily", "weekly", "monthly", "yearly"].contains(third.lowercased())
            if secondIsDateOrEmpty && !thirdIsFreq { modern = true }
        }
        r.legacy = !modern
        if modern {
            // dtstart|dtend|duration|freq|until|interval|byday|bymonthday|byyearday|byweekno|bymonth
            while f.count < 11 { f.append("") }
            if f.count > 11 { throw PluginErrorText("too many fields") }
            try setStart(&r, f[0])
            if !f[1].isEmpty { r.dtend = try dateTime(f[1], r.zone) }
            if !f[2].isEmpty { r.duration = try duration(f[2]) }
            if r.dtend != nil && r.duration != nil { throw PluginErrorText("dtend and duration are exclusive") }
            r.freq = try freq(f[3])
            if r.freq == .none && f[4...].contains(where: { !$0.isEmpty }) {
                throw PluginErrorText("until, interval and by-rules need a freq")
            }
            try setRest(&r, Array(f[4...]))
        } else {
            // dtstart|duration|freq|until|interval|byday|bymonthday|byyearday|byweekno|bymonth
            while f.count < 10 { f.append("") }
            if f.count > 10 { throw PluginErrorText("too many fields") }
            try setStart(&r, f[0])
            if !f[1].isEmpty { r.duration = try duration(f[1]) }
            r.freq = try freq(f[2])
            try setRest(&r, Array(f[3...]))
        }
        return r
    }

    private static func setStart(_ r: inout Recurrence, _ s: String) throws(PluginErrorText) {
        r.dtstart = try dateTime(s, r.zone)
        r.start = r.zone.parts(r.dtstart)
    }

    /// until|interval|byday|bymonthday|byyearday|byweekno|bymonth
    private static func setRest(_ r: inout Recurrence, _ f: [String]) throws(PluginErrorText) {
        if !f[0].isEmpty { r.until = try dateTime(f[0], r.zone) }
        if !f[1].isEmpty {
            guard let n = Int(f[1]), n >= 1 else { throw PluginErrorText("bad interval '\(f[1])'") }
            r.interval = n
        }
        if !f[2].isEmpty { r.byday = try byday(f[2]) }
        r.bymonthday = try intList(f[3], 31, "bymonthday")
        r.byyearday = try intList(f[4], 366, "byyearday")
        r.byweekno = try intList(f[5], 53, "byweekno")
        r.bymonth = try intList(f[6], 12, "bymonth")
        if r.bymonth.contains(where: { $0 < 0 }) { throw PluginErrorText("bymonth must be 1..12") }
    }

    static func isDateTime(_ s: String) -> Bool {
        let c = Array(s.utf8)
        guard c.count == 15, c[8] == UInt8(ascii: "T") || c[8] == UInt8(ascii: "t") else { return false }
        return c.enumerated().allSatisfy { $0.offset == 8 || ($0.element >= 48 && $0.element <= 57) }
    }

    static func dateTime(_ s: String, _ zone: TRZone) throws(PluginErrorText) -> Int64 {
        guard isDateTime(s) else { throw PluginErrorText("bad date-time '\(s)' (want YYYYMMDDTHHMMSS)") }
        let c = Array(s.utf8).map { Int($0) - 48 }
        func num(_ a: Int, _ n: Int) -> Int { (a..<a + n).reduce(0) { $0 * 10 + c[$1] } }
        let y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2), se = num(13, 2)
        guard y >= 1970, (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, se < 61 else {
            throw PluginErrorText("bad date-time '\(s)'")
        }
        return zone.make(year: y, month: mo, day: d, hour: h, minute: mi, second: se)
    }

    /// `P[nW][nD][T[nH][nM][nS]]` or bare `[nH][nM][nS]`.
    static func duration(_ s: String) throws(PluginErrorText) -> Int64 {
        var total: Int64 = 0, num: Int64 = 0, haveNum = false
        var chars = Array(s.uppercased())
        var dateSection = false, timeSection = true
        if chars.first == "P" { chars.removeFirst(); dateSection = true; timeSection = false }
        for ch in chars {
            if let d = ch.wholeNumberValue { num = num * 10 + Int64(d); haveNum = true; continue }
            switch ch {
            case "T" where dateSection: timeSection = true; dateSection = false; num = 0; haveNum = false; continue
            case "W" where dateSection: total += num * 7 * 86400
            case "D" where dateSection: total += num * 86400
            case "H" where timeSection: total += num * 3600
            case "M" where timeSection: total += num * 60
            case "S" where timeSection: total += num
            default: throw PluginErrorText("bad duration '\(s)'")
            }
            num = 0; haveNum = false
        }
        _ = haveNum // trailing digits without a unit are ignored (as OpenSIPS)
        return total
    }

    static func freq(_ s: String) throws(PluginErrorText) -> TRFreq {
        switch s.lowercased() {
        case "daily": return .daily
        case "weekly": return .weekly
        case "monthly": return .monthly
        case "yearly": return .yearly
        default: return .none
        }
    }

    static func byday(_ s: String) throws(PluginErrorText) -> [(n: Int, wday: Int)] {
        let names = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]
        var out: [(Int, Int)] = []
        for item in s.split(separator: ",") {
            let t = item.trimmingCharacters(in: .whitespaces).uppercased()
            guard t.count >= 2, let w = names.firstIndex(of: String(t.suffix(2))) else {
                throw PluginErrorText("bad byday '\(t)'")
            }
            let numPart = String(t.dropLast(2))
            var n = 0
            if !numPart.isEmpty {
                guard let v = Int(numPart) else { throw PluginErrorText("bad byday '\(t)'") }
                n = v
            }
            out.append((n, w))
        }
        return out
    }

    static func intList(_ s: String, _ max: Int, _ what: String) throws(PluginErrorText) -> [Int] {
        if s.isEmpty { return [] }
        var out: [Int] = []
        for item in s.split(separator: ",") {
            guard let v = Int(item.trimmingCharacters(in: .whitespaces)), v != 0, abs(v) <= max else {
                throw PluginErrorText("bad \(what) '\(item)'")
            }
            out.append(v)
        }
        return out
    }
}

/// A plain error message (typed throws).
struct PluginErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}
