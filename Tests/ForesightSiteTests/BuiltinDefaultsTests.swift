import Foundation
import Testing
@testable import ForesightSite

/// The defaults embedded in the binary are the repository's files, byte for byte (regenerate with
/// `make defaults` after editing one), and they load.
@Suite struct BuiltinDefaultsTests {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return url
    }()

    @Test(arguments: BuiltinDefaults.all.map(\.path))
    func embeddedCopyMatchesTheFile(_ path: String) throws {
        let file = try #require(BuiltinDefaults.all.first { $0.path == path })
        let onDisk = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        #expect(file.text == onDisk, "\(path) changed: run `make defaults` to re-embed it")
    }

    @Test func embeddedSiteLoads() throws {
        let site = try Site.parse(yaml: BuiltinDefaults.simSite.text, source: BuiltinDefaults.simSite.path)
        #expect(site.mmwave.beams > 0)
    }
}
