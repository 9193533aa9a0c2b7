import XCTest
@testable import SwitchyardSQL

/// SQLURL: the OpenSIPS SQL URL forms operators write, and the password never shown.
final class SQLURLTests: XCTestCase {
    func testCredentialsHostPortDatabaseParams() throws {
        let u = try SQLURL.parse("mysql://opensips:secret@db.example:3306/opensips?ssl=1")
        XCTAssertEqual([u.user, u.password, u.host, u.database, u.params], ["opensips", "secret", "db.example", "opensips", "ssl=1"])
        XCTAssertEqual(u.port, 3306)
        XCTAssertEqual(u.masked, "mysql://opensips:***@db.example:3306/opensips?ssl=1")
    }

    func testPasswordMayHoldSlashColonQuestionAndHash() throws {
        let u = try SQLURL.parse("mysql://u:p%40ss:w/rd?#x;y@127.0.0.1:3307/db")
        XCTAssertEqual(u.user, "u")
        XCTAssertEqual(u.password, "p@ss:w/rd?#x;y")
        XCTAssertEqual(u.host, "127.0.0.1")
        XCTAssertEqual(u.port, 3307)
        XCTAssertEqual(u.database, "db")
        XCTAssertFalse(u.masked.contains("rd"), u.masked)
    }

    func testNoCredentialsWithPortAndAtInParams() throws {
        let u = try SQLURL.parse("mysql://host:3306/db?x=a@b")
        XCTAssertNil(u.user)
        XCTAssertNil(u.password)
        XCTAssertEqual(u.host, "host")
        XCTAssertEqual(u.port, 3306)
        XCTAssertEqual(u.database, "db")
        XCTAssertEqual(u.params, "x=a@b")
    }

    func testNoCredentialsWithPortAndAtInDatabase() throws {
        let u = try SQLURL.parse("postgres://10.0.0.5:5432/routes@farm")
        XCTAssertNil(u.user)
        XCTAssertEqual(u.host, "10.0.0.5")
        XCTAssertEqual(u.port, 5432)
        XCTAssertEqual(u.database, "routes@farm")
    }

    func testIPv6HostWithoutCredentials() throws {
        let u = try SQLURL.parse("mysql://[::1]:3306/db?x=a@b")
        XCTAssertNil(u.user)
        XCTAssertEqual(u.host, "::1")
        XCTAssertEqual(u.port, 3306)
        XCTAssertEqual(u.database, "db")
        XCTAssertEqual(u.params, "x=a@b")
    }

    func testIPv6HostWithCredentials() throws {
        let u = try SQLURL.parse("mysql://u:pw@[::1]:3306/db")
        XCTAssertEqual([u.user, u.password, u.host], ["u", "pw", "::1"])
        XCTAssertEqual(u.port, 3306)
    }

    func testUserWithoutPassword() throws {
        let u = try SQLURL.parse("postgres://opensips@localhost/opensips")
        XCTAssertEqual(u.user, "opensips")
        XCTAssertNil(u.password)
        XCTAssertEqual(u.host, "localhost")
        XCTAssertNil(u.port)
    }

    func testDigitsOnlyPasswordIsStillAPassword() throws {
        let u = try SQLURL.parse("mysql://u:12345@host/db")
        XCTAssertEqual([u.user, u.password, u.host], ["u", "12345", "host"])
        XCTAssertNil(u.port)
    }

    func testUnixSocketHost() throws {
        let u = try SQLURL.parse("mysql://u:pw@unix(/run/mysqld/mysqld.sock)/db")
        XCTAssertEqual(u.socket, "/run/mysqld/mysqld.sock")
        XCTAssertEqual(u.database, "db")
    }

    func testBadURLsAreRefusedWithThePasswordMasked() {
        for text in ["mysql://u:topsecret@host", "mysql://u:topsecret@host:99999/db", "mysql//u:topsecret@host/db"] {
            XCTAssertThrowsError(try SQLURL.parse(text), text) { error in
                XCTAssertFalse("\(error)".contains("topsecret"), "\(error)")
            }
        }
    }
}
