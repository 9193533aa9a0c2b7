import Foundation
import Synchronization
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The `json` plugin (Plugins/json, libjson.so of this build) driven from scripts: the spec's §7.4 table row by row,
/// the §6 quirks (18–22), iteration, json_link, per-worker documents, hostile input, and a real FreeSWITCH event body.
final class JSONModuleTests: XCTestCase {
    private func harness(_ body: String, modparams: [String] = []) -> ServerHarness {
        ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "json.so"
        \(modparams.map { "modparam(\"json\", \($0))" }.joined(separator: "\n"))
        \(body)
        """)
    }

    private func start(_ h: ServerHarness, workers: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(h.prepare(workers: workers).map(\.description), [], file: file, line: line)
        try h.start()
    }

    private func log(_ h: ServerHarness) -> String { h.messages.joined(separator: "\n") }

    /// The message of the one log line starting with `prefix` (nil if none).
    private func line(_ h: ServerHarness, _ prefix: String) -> String? {
        h.messages.first { $0.hasPrefix(prefix) }
    }

    private func startupErrors(_ body: String) -> String {
        harness(body).prepare(checkOnly: true).map(\.description).joined(separator: "\n")
    }

    /// The §7.4 document, as a script string literal.
    private static let specDocument =
        #"{\"a\":1,\"b\":\"x\",\"c\":[1,2,3],\"d\":null,\"e\":true,\"f\":1.5,\"u\":\"http://h/p\"}"#

    // MARK: - §7.4, every row

    func testSpecTable() throws {
        let h = harness(#"""
        startup_route {
            $json(o) := "\#(Self.specDocument)";
            xlog("T0 rc=$rc");
            xlog("T1 a=$json(o/a)");
            $var(t) = $json(o/a) * 10;
            xlog("T1 int a*10=$var(t)");
            xlog("T2 b=$json(o/b)");
            xlog("T3 $json(o/c[-1]) / $json(o/c[5]) / $json(o/c[-4])");
            $var(t) = $json(o/c[-1]) * 10;
            xlog("T3 int=$var(t)");
            xlog("T4 $json(o/d) / $json(o/zz) / $json(nope/a)");
            xlog("T5 $json(o/e) / $json(o/f)");
            xlog("T6 $json(o/c) / $json_compact(o/c)");
            xlog("T7 $json(o/u) / $json_compact(o)");
            xlog("T17 $json(o)");
            $var(keys) = "";
            for ($var(k) in $(json(o.keys)[*])) { $var(keys) = $var(keys) + $var(k) + ","; }
            xlog("T18 keys=$var(keys)");
            $var(sum) = 0;
            for ($var(v) in $(json(o/c)[*])) {
                xlog("T19 v=$var(v)");
                $var(sum) = $var(sum) + $var(v);
            }
            xlog("T19 sum=$var(sum)");

            $json(o/c[]) = 4;
            xlog("T8 rc=$rc $json_compact(o/c)");
            $json(o/c[0]) = NULL;
            xlog("T9 rc=$rc $json_compact(o/c)");
            $json(o/c[10]) = 1;
            xlog("T10 rc=$rc $json_compact(o/c)");
            $json(o/g/h) = 1;
            xlog("T11 rc=$rc g=$json(o/g)");
            $json(o/g) := "{}";
            $json(o/g/h) = 1;
            xlog("T11b rc=$rc $json_compact(o/g)");
            $json(o/s) = "5";
            xlog("T12 raw=$json_compact(o/s) doc=$json_compact(o)");
            $var(t) = 0;
            $var(t) = $json(o/s) * 2;
            xlog("T12 arithmetic on the string: $var(t)");
            $json(o/n) = 5;
            $var(t) = $json(o/n) * 2;
            xlog("T13 n*2=$var(t) doc=$json_compact(o)");
            $json(p) := "{bad";
            xlog("T14 rc=$rc p=$json(p)");
            $json(new/x) = 1;
            xlog("T15 rc=$rc new=$json(new)");
            $json(m) := "{}";
            $json(m/k2) = 1;
            $json(m/k1) = 2;
            $json(m/k2) = 3;
            xlog("T16 $json_compact(m)");
        }
        """#)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        XCTAssertEqual(line(h, "T0 "), "T0 rc=1", out)
        XCTAssertEqual(line(h, "T1 a="), "T1 a=1", out)
        XCTAssertEqual(line(h, "T1 int"), "T1 int a*10=10", out)
        XCTAssertEqual(line(h, "T2 "), "T2 b=x", out)
        XCTAssertEqual(line(h, "T3 3"), "T3 3 / <null> / <null>", out)
        XCTAssertEqual(line(h, "T3 int"), "T3 int=30", out)
        XCTAssertEqual(line(h, "T4 "), "T4 <null> / <null> / <null>", out)
        XCTAssertEqual(line(h, "T5 "), "T5 true / 1.5", out)
        XCTAssertEqual(line(h, "T6 "), "T6 [ 1, 2, 3 ] / [1,2,3]", out)
        XCTAssertEqual(line(h, "T7 "),
                       #"T7 http://h/p / {"a":1,"b":"x","c":[1,2,3],"d":null,"e":true,"f":1.5,"u":"http:\/\/h\/p"}"#, out)
        XCTAssertEqual(line(h, "T17 "),
                       #"T17 { "a": 1, "b": "x", "c": [ 1, 2, 3 ], "d": null, "e": true, "f": 1.5, "u": "http:\/\/h\/p" }"#,
                       out)
        XCTAssertEqual(line(h, "T18 "), "T18 keys=a,b,c,d,e,f,u,", out)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("T19 v=") }, ["T19 v=1", "T19 v=2", "T19 v=3"], out)
        XCTAssertEqual(line(h, "T19 sum"), "T19 sum=6", "the elements are ints\n" + out)
        XCTAssertEqual(line(h, "T8 "), "T8 rc=1 [1,2,3,4]", out)
        XCTAssertEqual(line(h, "T9 "), "T9 rc=1 [2,3,4]", out)
        XCTAssertEqual(line(h, "T10 "), "T10 rc=-1 [2,3,4]", out)
        XCTAssertTrue(out.contains("$json(o/c[10]): attempting to replace at invalid index in array: 10"), out)
        XCTAssertEqual(line(h, "T11 "), "T11 rc=-1 g=<null>", out)
        XCTAssertTrue(out.contains("$json(o/g/h): could not find object with that path"), out)
        XCTAssertEqual(line(h, "T11b "), #"T11b rc=1 {"h":1}"#, out)
        XCTAssertEqual(line(h, "T12 raw"),
                       #"T12 raw=5 doc={"a":1,"b":"x","c":[2,3,4],"d":null,"e":true,"f":1.5,"u":"http:\/\/h\/p","g":{"h":1},"s":"5"}"#,
                       out)
        XCTAssertEqual(line(h, "T12 arith"), "T12 arithmetic on the string: 0", out)
        XCTAssertEqual(line(h, "T13 "),
                       #"T13 n*2=10 doc={"a":1,"b":"x","c":[2,3,4],"d":null,"e":true,"f":1.5,"u":"http:\/\/h\/p","g":{"h":1},"s":"5","n":5}"#,
                       out)
        XCTAssertEqual(line(h, "T14 "), "T14 rc=-1 p=<null>", out)
        XCTAssertTrue(out.contains("$json(p) := ...: error parsing json"), out)
        XCTAssertEqual(line(h, "T15 "), "T15 rc=-1 new=<null>", out)
        XCTAssertTrue(out.contains("$json(new/x): object is not initialized yet"), out)
        XCTAssertEqual(line(h, "T16 "), #"T16 {"k2":3,"k1":2}"#, out)
    }

    // MARK: - §6 quirks 18–22 and the §3.4 details

    func testAssignmentQuirks() throws {
        let h = harness(#"""
        startup_route {
            # 19: '=' copies the text, ':=' the structure (a deep copy).
            $json(y) := "{\"k\":[1]}";
            $json(w) := "{}";
            $json(w/x) = $json(y);
            $json(w/z) := $json(y);
            $json(y/k[]) = 2;
            xlog("Q19 $json_compact(w) y=$json_compact(y)");
            $json(w/n) = "12";
            $json(w/b) := "false";
            $json(w/nl) := "[null]";
            xlog("Q19b n=$json(w/n) b=$json(w/b) null=$json(w/nl[0]) doc=$json_compact(w)");

            # 20: a failed parse deletes the target, NULL deletes, no auto-creation, [] of NULL is an error.
            $json(q) := "[1]";
            $json(q) := "nope";
            xlog("Q20a rc=$rc q=$json(q)");
            $json(q/x) = 1;
            xlog("Q20b rc=$rc (cleared document: nothing below it)");
            $json(w/z) := "{oops";
            xlog("Q20c rc=$rc $json_compact(w)");
            $json(w/x) = NULL;
            $json(w/missing) = NULL;
            xlog("Q20d rc=$rc $json_compact(w)");
            $json(arr) := "[1,2,3]";
            $json(arr[-1]) = NULL;
            xlog("Q20e rc=$rc $json_compact(arr)");
            $json(arr[]) = $avp(never_set);
            xlog("Q20f rc=$rc $json_compact(arr)");
            $json(arr[-5]) = 1;
            xlog("Q20g rc=$rc $json_compact(arr)");
            $json(arr[]) := "null";
            xlog("Q20h rc=$rc arr=$json(arr)");
            $json(s1) := "true";
            $json(s2) := "5";
            $json(s3) := "\"s\"";
            $json(s4) := " 1.50 ";
            xlog("Q20i $json(s1) $json(s2) $json(s3) $json(s4)");
            $json(arr) := "[]";
            $json(arr) = NULL;
            xlog("Q20j arr=$json(arr)");
            $json(arr[]) = 1;
            xlog("Q20k rc=$rc");
            $json(w/x/y) = 1;
            xlog("Q20l rc=$rc");
            $json(w/n/y) = 1;
            xlog("Q20m rc=$rc (a string is not an object)");
            $json(w[0]) = 1;
            xlog("Q20n rc=$rc (an object is not an array)");

            # 21: serialisation.
            $json(e) := "{\"o\":{},\"a\":[],\"s\":\"a/b \\\"q\\\" \\\\ \\t\\u0001 é\"}";
            xlog("Q21a $json(e)");
            xlog("Q21b $json_compact(e)");
            $json(pp) := "{\"a\":1,\"b\":[1,2],\"c\":{},\"d\":{\"e\":[]}}";
            xlog("Q21c $json_pretty(pp)");
            xlog("Q21d $json_pretty(pp/b)");
            $json(nums) := "[1.50,1e3,-0.0,12345678901234567890,-7]";
            xlog("Q21e $json_compact(nums) first=$json(nums[0])");

            # 22: a dotted key through a variable segment.
            $json(dot) := "{}";
            $var(k) = "b.c";
            $json(dot/$var(k)) = 1;
            $var(k) = "x/y[0]";
            $json(dot/$var(k)) = 2;
            xlog("Q22 $json_compact(dot) read=$json(dot/$var(k))");
            $var(k) = "B.C";
            $json(dot/$(var(k){s.tolower})) = 3;
            xlog("Q22b $json_compact(dot)");

            # Variables in paths, evaluated at each use.
            $json(v) := "{\"list\":[10,20,30],\"5\":\"five\"}";
            $var(i) = 1;
            $var(name) = "list";
            xlog("V1 $json(v/$var(name)[$var(i)])");
            $var(i) = -1;
            xlog("V2 $json(v/$var(name)[$var(i)])");
            $var(i) = "1";
            xlog("V3 $json(v/list[$var(i)])");
            $var(n5) = 5;
            xlog("V4 $json(v/$var(n5))");
            xlog("V5 $json(v/$var(unset))");
            $var(i) = 0;
            $json(v/list[$var(i)]) = 11;
            xlog("V6 $json_compact(v/list)");

            # $json_compact and $json_pretty take assignments too (as in OpenSIPS).
            $json_compact(cc) := "[1]";
            $json_pretty(cc[]) = 2;
            xlog("W1 $json(cc)");

            # 2.4-style index loop (stops at the first falsy value).
            $json(ar1) := "[1,2,3,0,5]";
            $var(i) = 0;
            while ($json(ar1[$var(i)])) {
                $json(ar1[$var(i)]) = $json(ar1[$var(i)]) + 1;
                $var(i) = $var(i) + 1;
            }
            xlog("L1 $json_compact(ar1)");
        }
        """#)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        XCTAssertEqual(line(h, "Q19 "), #"Q19 {"x":"{ \"k\": [ 1 ] }","z":{"k":[1]}} y={"k":[1,2]}"#, out)
        XCTAssertEqual(line(h, "Q19b "),
                       #"Q19b n=12 b=false null=<null> doc={"x":"{ \"k\": [ 1 ] }","z":{"k":[1]},"n":"12","b":false,"nl":[null]}"#,
                       out)
        XCTAssertEqual(line(h, "Q20a "), "Q20a rc=-1 q=<null>", out)
        XCTAssertEqual(line(h, "Q20b "), "Q20b rc=-1 (cleared document: nothing below it)", out)
        XCTAssertEqual(line(h, "Q20c "), #"Q20c rc=-1 {"x":"{ \"k\": [ 1 ] }","n":"12","b":false,"nl":[null]}"#, out)
        XCTAssertEqual(line(h, "Q20d "), #"Q20d rc=1 {"n":"12","b":false,"nl":[null]}"#, out)
        XCTAssertEqual(line(h, "Q20e "), "Q20e rc=1 [1,2]", out)
        XCTAssertEqual(line(h, "Q20f "), "Q20f rc=-1 [1,2]", out)
        XCTAssertTrue(out.contains("$json(arr[]): invalid parameter for deletion"), out)
        XCTAssertEqual(line(h, "Q20g "), "Q20g rc=-1 [1,2]", out)
        XCTAssertEqual(line(h, "Q20h "), "Q20h rc=-1 arr=[ 1, 2 ]", "':= \"null\"' fails; deleting [] fails too\n" + out)
        XCTAssertEqual(line(h, "Q20i "), "Q20i true 5 s 1.50", out)
        XCTAssertEqual(line(h, "Q20j "), "Q20j arr=<null>", out)
        XCTAssertEqual(line(h, "Q20k "), "Q20k rc=-1", out)
        XCTAssertEqual(line(h, "Q20l "), "Q20l rc=-1", out)
        XCTAssertEqual(line(h, "Q20m "), "Q20m rc=-1 (a string is not an object)", out)
        XCTAssertEqual(line(h, "Q20n "), "Q20n rc=-1 (an object is not an array)", out)
        XCTAssertEqual(line(h, "Q21a "), #"Q21a { "o": { }, "a": [ ], "s": "a\/b \"q\" \\ \t\u0001 é" }"#, out)
        XCTAssertEqual(line(h, "Q21b "), #"Q21b {"o":{},"a":[],"s":"a\/b \"q\" \\ \t\u0001 é"}"#, out)
        XCTAssertEqual(line(h, "Q21c "), """
        Q21c {
          "a":1,
          "b":[
            1,
            2
          ],
          "c":{
          },
          "d":{
            "e":[
            ]
          }
        }
        """, out)
        XCTAssertEqual(line(h, "Q21d "), "Q21d [\n  1,\n  2\n]", out)
        XCTAssertEqual(line(h, "Q21e "), "Q21e [1.50,1e3,-0.0,12345678901234567890,-7] first=1.50", out)
        XCTAssertEqual(line(h, "Q22 "), #"Q22 {"b.c":1,"x\/y[0]":2} read=2"#, out)
        XCTAssertEqual(line(h, "Q22b "), #"Q22b {"b.c":3,"x\/y[0]":2}"#, out)
        XCTAssertEqual(line(h, "V1 "), "V1 20", out)
        XCTAssertEqual(line(h, "V2 "), "V2 30", out)
        XCTAssertEqual(line(h, "V3 "), "V3 <null>", "an index variable must hold an int\n" + out)
        XCTAssertEqual(line(h, "V4 "), "V4 five", out)
        XCTAssertEqual(line(h, "V5 "), "V5 <null>", out)
        XCTAssertEqual(line(h, "V6 "), "V6 [11,20,30]", out)
        XCTAssertEqual(line(h, "W1 "), "W1 [ 1, 2 ]", out)
        XCTAssertEqual(line(h, "L1 "), "L1 [2,3,4,0,5]", out)
    }

    func testIntegersBeyond32BitsClampOrQuote() throws {
        let script = #"""
        startup_route {
            $json(b) := "{\"big\":4294967296,\"neg\":-3000000000,\"ok\":2147483647}";
            $var(t) = 0;
            $var(t) = $json(b/big) + 0;
            xlog("B big=$json(b/big) neg=$json(b/neg) ok=$json(b/ok) arith=$var(t) doc=$json_compact(b)");
        }
        """#
        let clamp = harness(script)
        try start(clamp)
        XCTAssertEqual(line(clamp, "B "),
                       #"B big=2147483647 neg=-2147483648 ok=2147483647 arith=2147483647 doc={"big":4294967296,"neg":-3000000000,"ok":2147483647}"#,
                       log(clamp))
        clamp.stop()

        let quote = harness(script, modparams: [#""enable_long_quoting", 1"#])
        try start(quote)
        defer { quote.stop() }
        XCTAssertEqual(line(quote, "B "),
                       #"B big=4294967296 neg=-3000000000 ok=2147483647 arith=0 doc={"big":4294967296,"neg":-3000000000,"ok":2147483647}"#,
                       "a quoted value is a string: no arithmetic\n" + log(quote))
    }

    // MARK: - Iteration

    func testIterationOverObjectsArraysAndKeys() throws {
        let h = harness(#"""
        startup_route {
            $json(d) := "{\"s\":\"x\",\"i\":7,\"o\":{\"k\":[1,{}]},\"a\":[],\"n\":null,\"t\":true}";
            for ($var(v) in $(json(d)[*])) { xlog("I1 $var(v)"); }
            for ($var(v) in $(json(d.values)[*])) { xlog("I2 $var(v)"); }
            for ($var(v) in $(json(d.keys)[*])) { xlog("I3 $var(v)"); }
            $json(l) := "[\"a\",[1,2],{\"x\":1},3]";
            for ($var(v) in $(json(l)[*])) { xlog("I4 $var(v)"); }
            for ($var(v) in $(json(l.keys)[*])) { xlog("I5 never $var(v)"); }
            for ($var(v) in $(json(l.values)[*])) { xlog("I5 never $var(v)"); }
            for ($var(v) in $(json(d/s)[*])) { xlog("I5 never $var(v)"); }
            for ($var(v) in $(json(missing)[*])) { xlog("I5 never $var(v)"); }
            for ($var(v) in $(json(d/o/k)[*])) { xlog("I6 $var(v)"); }
            for ($var(v) in $(json(l)[*])) { if ($var(v) == 3) { break; } xlog("I7 $var(v)"); }
            xlog("I8 $(json(l)[1]) $(json(l)[-1]) $(json(l)[9]) $(json(d.keys)[2]) $(json(d)[1])");
            # a $json iterator receives each element with ':=' (parsed)
            $json(objs) := "[{\"k\":1},{\"k\":2}]";
            for ($json(it) in $(json(objs)[*])) { xlog("I9 k=$json(it/k) it=$json_compact(it)"); }
            xlog("I10 done");
        }
        """#)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        let values = [#"x"#, "7", #"{ "k": [ 1, { } ] }"#, "[ ]", "<null>", "true"]
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("I1 ") }, values.map { "I1 " + $0 }, out)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("I2 ") }, values.map { "I2 " + $0 }, out)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("I3 ") }, ["s", "i", "o", "a", "n", "t"].map { "I3 " + $0 }, out)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("I4 ") },
                       ["I4 a", "I4 [ 1, 2 ]", #"I4 { "x": 1 }"#, "I4 3"], out)
        XCTAssertFalse(out.contains("I5 never"), out)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("I6 ") }, ["I6 1", "I6 { }"], out)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("I7 ") }, ["I7 a", "I7 [ 1, 2 ]", #"I7 { "x": 1 }"#], out)
        XCTAssertEqual(line(h, "I8 "), "I8 [ 1, 2 ] 3 <null> o 7", out)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("I9 ") }, [#"I9 k=1 it={"k":1}"#, #"I9 k=2 it={"k":2}"#], out)
        XCTAssertNotNil(line(h, "I10 done"), out)
    }

    // MARK: - json_link

    func testJsonLinkSharesNodesAndRefusesCycles() throws {
        let h = harness(#"""
        startup_route {
            # The OpenSIPS README example.
            $json(b) := "[{},{},{}]";
            json_link($json(stub), $json(b[0]));
            xlog("K0 rc=$rc");
            $json(stub/ana) = "are";
            $json(stub/ar) := "[]";
            $json(stub/ar[]) = 1;
            $json(stub/ar[]) = 2;
            $json(stub/ar[]) = 3;
            $json(b[0]/ar[0]) = NULL;
            xlog("K1 $json(stub) | $json(b)");
            $json(stub) = NULL;
            xlog("K2 $json(stub) | $json(b)");

            # A link into an existing document, by key and by index, with variables in both paths.
            $json(doc) := "{\"calls\":[]}";
            $json(leg) := "{\"id\":\"A\"}";
            $var(i) = 0;
            $var(key) = "calls";
            json_link($json(doc/$var(key)[]), $json(leg));
            json_link($json(doc/first), $json(doc/$var(key)[$var(i)]));
            $json(leg/state) = "up";
            xlog("K3 $json_compact(doc)");
            $json(leg) := "{\"id\":\"B\"}";
            xlog("K4 leg=$json_compact(leg) doc=$json_compact(doc)");
            json_link($json(num), $json(doc/first/id));
            xlog("K5 rc=$rc num=$json(num)");
            json_link($json_compact(lc), $json_pretty(doc/calls));
            $json(leg2) := "{}";
            json_link($json(lc[]), $json(leg2));
            $json(leg2/id) = "C";
            xlog("K5b rc=$rc $json_compact(doc/calls)");

            # Errors: a missing source, a NULL, a document never set, a plain variable.
            json_link($json(x), $json(doc/nope));
            xlog("K6 rc=$rc");
            $json(nl) := "{\"n\":null}";
            json_link($json(x), $json(nl/n));
            xlog("K7 rc=$rc");
            json_link($json(x), $json(never));
            xlog("K8 rc=$rc");
            json_link($var(plain), $json(doc));
            xlog("K9 rc=$rc");
            json_link($json(neverdest/k), $json(doc));
            xlog("K10 rc=$rc");

            # Cycles are refused (they crash OpenSIPS on the next read).
            $json(c) := "[1]";
            json_link($json(c[0]), $json(c));
            xlog("C1 rc=$rc c=$json(c)");
            $json(p) := "{}";
            $json(q) := "{}";
            json_link($json(p/q), $json(q));
            json_link($json(q/p), $json(p));
            xlog("C2 rc=$rc p=$json_compact(p) q=$json_compact(q)");
            $json(r) := "{\"in\":{\"deep\":{}}}";
            json_link($json(r/in/deep/back), $json(r/in));
            xlog("C3 rc=$rc r=$json_compact(r)");
            json_link($json(r/in/deep/same), $json(r/in/deep));
            xlog("C4 rc=$rc");
            json_link($json(r/copy), $json(r/in/deep));
            xlog("C5 rc=$rc r=$json_compact(r)");
        }
        """#)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        XCTAssertEqual(line(h, "K0 "), "K0 rc=1", out)
        XCTAssertEqual(line(h, "K1 "), #"K1 { "ana": "are", "ar": [ 2, 3 ] } | [ { "ana": "are", "ar": [ 2, 3 ] }, { }, { } ]"#, out)
        XCTAssertEqual(line(h, "K2 "), #"K2 <null> | [ { "ana": "are", "ar": [ 2, 3 ] }, { }, { } ]"#, out)
        XCTAssertEqual(line(h, "K3 "), #"K3 {"calls":[{"id":"A","state":"up"}],"first":{"id":"A","state":"up"}}"#, out)
        XCTAssertEqual(line(h, "K4 "),
                       #"K4 leg={"id":"B"} doc={"calls":[{"id":"A","state":"up"}],"first":{"id":"A","state":"up"}}"#,
                       "re-assigning the name only drops its reference\n" + out)
        XCTAssertEqual(line(h, "K5 "), "K5 rc=1 num=A", out)
        XCTAssertEqual(line(h, "K5b "), #"K5b rc=1 [{"id":"A","state":"up"},{"id":"C"}]"#, out)
        XCTAssertEqual(line(h, "K6 "), "K6 rc=-1", out)
        XCTAssertEqual(line(h, "K7 "), "K7 rc=-1", out)
        XCTAssertEqual(line(h, "K8 "), "K8 rc=-1", out)
        XCTAssertTrue(out.contains("json_link: variable named never not found"), out)
        XCTAssertEqual(line(h, "K9 "), "K9 rc=-1", out)
        XCTAssertTrue(out.contains("json_link: parameters must be json variables"), out)
        XCTAssertEqual(line(h, "K10 "), "K10 rc=-1", out)
        XCTAssertEqual(line(h, "C1 "), "C1 rc=-1 c=[ 1 ]", out)
        XCTAssertTrue(out.contains("json_link: $json(c[0]) is inside the linked object: refused (a circular reference)"), out)
        XCTAssertEqual(line(h, "C2 "), #"C2 rc=-1 p={"q":{}} q={}"#, out)
        XCTAssertEqual(line(h, "C3 "), #"C3 rc=-1 r={"in":{"deep":{}}}"#, out)
        XCTAssertEqual(line(h, "C4 "), "C4 rc=-1", out)
        XCTAssertEqual(line(h, "C5 "), #"C5 rc=1 r={"in":{"deep":{}},"copy":{}}"#, out)
    }

    // MARK: - Per-worker documents (§6 item 18)

    /// Runs route `name` as a task on whichever worker takes it; returns that worker's rank.
    private func runTask(_ h: ServerHarness, _ name: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
        guard let box = h.server.engine.namedRoutes[name], let queue = h.server.queue else {
            XCTFail("no route \(name)", file: file, line: line)
            return 0
        }
        let done = DispatchSemaphore(value: 0)
        let rank = Atomic<Int>(0)
        let engine = h.server.engine
        _ = queue.offer(.task { ctx in
            engine.run(box, ctx)
            rank.store(ctx.worker.rank, ordering: .relaxed)
            done.signal()
        })
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, file: file, line: line)
        return rank.load(ordering: .relaxed)
    }

    func testDocumentsArePerWorkerAndPersistAcrossEvents() throws {
        let h = harness(#"""
        startup_route {
            $json(boot) := "{\"from\":\"startup\"}";
            $json(shared) := "{}";
            $json(holder) := "{}";
            json_link($json(holder/s), $json(shared));
        }
        route[bump] {
            if ($json(c) == NULL) { $json(c) := "{\"n\":0,\"seen\":[]}"; }
            $json(c/n) = $json(c/n) + 1;
            if ($var(n) == NULL) { $var(n) = 0; }
            $var(n) = $var(n) + 1;
            $json(fresh) := "[]";
            $json(fresh[]) = $var(n);
            $json(boot/n) = $var(n);
            $json(shared/n) = $var(n);
            xlog("bump json=$json(c/n) var=$var(n) boot=$json(boot/from)/$json(boot/n) fresh=$json_compact(fresh) holder=$json_compact(holder)");
        }
        timer_route[tick, 1] {
            $json(t) := "{}";
            xlog("tick c=$json(c/n) boot=$json(boot) t=$json(t)");
        }
        """#)
        try start(h, workers: 2)
        defer { h.stop() }

        var ranks: [Int] = []
        func bump() {
            ranks.append(runTask(h, "bump"))
        }
        for _ in 0..<6 { bump() }
        // Hold one worker so that the next bumps must run on the other one.
        let hold = DispatchSemaphore(value: 0)
        let held = DispatchSemaphore(value: 0)
        _ = h.server.queue!.offer(.task { _ in
            held.signal()
            hold.wait()
        })
        XCTAssertEqual(held.wait(timeout: .now() + 10), .success)
        for _ in 0..<3 { bump() }
        hold.signal()
        for _ in 0..<3 { bump() }

        let bumps = h.messages.filter { $0.hasPrefix("bump ") }
        XCTAssertEqual(bumps.count, ranks.count, log(h))
        var perRank: [Int: Int] = [:]
        for (i, rank) in ranks.enumerated() where i < bumps.count {
            let n = (perRank[rank] ?? 0) + 1
            perRank[rank] = n
            // Every worker starts with a copy of what startup_route set (OpenSIPS forks after it), then its own copy
            // changes: boot/n is this worker's count.
            // The link made in startup_route holds in each copy.
            XCTAssertEqual(bumps[i], "bump json=\(n) var=\(n) boot=startup/\(n) fresh=[\(n)] holder={\"s\":{\"n\":\(n)}}",
                           "task \(i) on worker \(rank)\n" + log(h))
        }
        XCTAssertEqual(Set(ranks), [1, 2], "both workers served\n\(ranks)")

        // The timer route has documents of its own (a negative rank), also starting from startup_route's.
        XCTAssertTrue(h.waitFor("tick "), log(h))
        XCTAssertEqual(line(h, "tick "), #"tick c=<null> boot={ "from": "startup" } t={ }"#, log(h))
    }

    // MARK: - Hostile input

    func testDeepAndMalformedInputIsAnErrorNotACrash() throws {
        let h = harness(#"""
        event_route[E_PARSE] {
            $json(x) := "[0]";
            $json(x) := $param(t);
            xlog("parsed $param(n): rc=$rc x=$json(x)");
        }
        event_route[E_DONE] { xlog("done"); }
        """#)
        try start(h, workers: 1)
        defer { h.stop() }
        let deep = 10_000
        let cases: [(String, String)] = [
            ("deep-arrays", String(repeating: "[", count: deep) + String(repeating: "]", count: deep)),
            ("deep-open", String(repeating: "[", count: deep)),
            ("deep-objects", String(repeating: #"{"a":"#, count: deep) + "1" + String(repeating: "}", count: deep)),
            ("garbage", "\u{01}\u{7f}@#$%^&*()"),
            ("truncated", #"{"a":[1,2"#),
            ("trailing-comma", #"{"a":1,}"#),
            ("missing-comma", "[1 2]"),
            ("trailing-data", #"{"a":1} {"#),
            ("bad-escape", #"["\q"]"#),
            ("lone-surrogate", #"["\ud800"]"#),
            ("control-char", "[\"a\u{01}b\"]"),
            ("bad-literal", "tru"),
            ("empty", ""),
            ("blank", "   "),
            ("leading-zero", "[01]"),
            ("huge-exponent", "[1e999999]"),
            ("single-quotes", "{'a':1}"),
        ]
        for (i, (name, text)) in cases.enumerated() {
            XCTAssertEqual(h.server.raiseEvent("E_PARSE", [(name: "n", value: .str(name)), (name: "t", value: .str(text))]), 0,
                           "case \(i)")
        }
        // And a deep but legal document (within the limit) still works.
        let legal = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        XCTAssertEqual(h.server.raiseEvent("E_PARSE", [(name: "n", value: .str("legal-500")), (name: "t", value: .str(legal))]), 0)
        XCTAssertEqual(h.server.raiseEvent("E_DONE", []), 0)
        XCTAssertTrue(h.waitFor("done", timeout: 30), log(h))
        for (name, _) in cases {
            XCTAssertEqual(line(h, "parsed \(name):"), "parsed \(name): rc=-1 x=<null>", log(h))
        }
        XCTAssertTrue(log(h).contains("nesting deeper than 512 levels"), log(h))
        // The 500-deep document reads back as SPACED text: "[ " and " ]" around each level but the innermost "[ ]".
        var spaced = "[ ]"
        for _ in 1..<500 { spaced = "[ " + spaced + " ]" }
        XCTAssertEqual(line(h, "parsed legal-500:"), "parsed legal-500: rc=1 x=\(spaced)", log(h))
    }

    // MARK: - A real FreeSWITCH event body

    /// The body of a real ESL `text/event-json` frame (after the blank line that ends the headers).
    static func dtmfEventBody() throws -> String {
        let frame = try String(contentsOf: Repo.root.appendingPathComponent("Tests/jsonTests/Fixtures/esl_event_DTMF.txt"), encoding: .utf8)
        guard let r = frame.range(of: "\n\n") else { throw NSError(domain: "fixture", code: 1) }
        return String(frame[r.upperBound...])
    }

    func testFreeSWITCHDTMFEventBody() throws {
        let body = try Self.dtmfEventBody()
        XCTAssertTrue(body.hasPrefix(#"{"Event-Name":"DTMF""#))
        let h = harness(#"""
        event_route[E_FS] {
            $json(ev) := $param(body);
            xlog("dtmf rc=$rc uid=$json(ev/Unique-ID) digit=$json(ev/DTMF-Digit) dest=$json(ev/Caller-Destination-Number)");
            $var(n) = 0;
            for ($var(k) in $(json(ev.keys)[*])) { $var(n) = $var(n) + 1; }
            xlog("dtmf keys=$var(n) name=$json(ev/Event-Name) last=$(json(ev.keys)[-1]) hidden=$json(ev/Caller-Privacy-Hide-Name)");
            $json(ev/DTMF-Digit) = NULL;
            xlog("dtmf deleted=$json(ev/DTMF-Digit) same-length=$(json_compact(ev){s.len})");
        }
        """#)
        try start(h, workers: 1)
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_FS", [(name: "body", value: .str(body))]), 0)
        XCTAssertTrue(h.waitFor("dtmf deleted"), log(h))
        XCTAssertEqual(line(h, "dtmf rc="),
                       "dtmf rc=1 uid=803beb2e-45da-4b96-8445-d0f2605babc4 digit=1 dest=1000", log(h))
        XCTAssertEqual(line(h, "dtmf keys="), "dtmf keys=60 name=DTMF last=DTMF-Source hidden=false", log(h))
        // The body is compact with no escapes: re-serialised without `,"DTMF-Digit":"1"`, it is as long as the body
        // minus that member, plus one byte per '/' (json-c writes `\/`: "loopback/1000-b" twice).
        let slashes = body.utf8.filter { $0 == UInt8(ascii: "/") }.count
        XCTAssertEqual(slashes, 2)
        XCTAssertEqual(line(h, "dtmf deleted="),
                       "dtmf deleted=<null> same-length=\(body.utf8.count - #","DTMF-Digit":"1""#.utf8.count + slashes)",
                       log(h))
    }

    // MARK: - Startup errors

    func testPathGrammarErrorsFailStartup() throws {
        func check(_ script: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            let errors = startupErrors("startup_route { \(script) }")
            XCTAssertTrue(errors.contains(expected), "\(script):\n\(errors)", file: file, line: line)
        }
        check(#"xlog("$json(a/b.c)");"#, "bad iterator type '.c'")
        check(#"xlog("$json(a[x])");"#, "index value is not an integer: [x]")
        check(#"xlog("$json(a[1)");"#, "mismatched '[' (missing ']')")
        check(#"xlog("$json(a[0]x)");"#, "unexpected character 'x'")
        check(#"xlog("$json(a.keys/b)");"#, "bad iterator type '.keys/b'")
        check(#"xlog("$json(/x)");"#, "missing the document name")
        check(#"xlog("$json($var(n)/x)");"#, "the document name cannot be a variable")
        check(#"xlog("$json(a/$nosuch(x))");"#, "bad variable '$nosuch(x)' as a key")
        check(#"xlog("$(json_compact(a)[*])");"#, "does not take an index")
        // A quoted variable alone is the 2.4 form of an output variable (taken as it); anything more is a string.
        check(#"json_link("x$json(a)", "$json(b)");"#, "must be a variable")
        // Accepted: spaces in keys, empty keys, an index with blanks, a suffix after an index.
        XCTAssertEqual(startupErrors(#"startup_route { xlog("$json(a/b c//d[ -1 ][ ].values)"); }"#), "")
    }
}
