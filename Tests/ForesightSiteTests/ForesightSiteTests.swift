@testable import ForesightSite
import Foundation
import Testing

enum SiteFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func site() throws -> Site {
        try Site.load(path: root + "/Calibration/sim-site.yaml")
    }
}

@Suite struct SiteTests {
    @Test func loadsTheSimSite() throws {
        let site = try SiteFixtures.site()
        #expect(site.name == "sim-street")
        #expect(site.mmwave.elements == 16)
        #expect(site.mmwave.beams == 64)
        #expect(site.radar.rx == 4 && site.radar.samples == 256 && site.radar.chirps == 128)
        #expect(site.lidar.beams == 32 && site.lidar.columns == 1024)
        #expect(site.camera.width == 960 && site.camera.height == 540)
        #expect(site.beamPower.unit == .mw)
    }

    @Test func codebookAnglesAreSymmetricAndIncreasing() throws {
        let angles = try SiteFixtures.site().codebookSteeringAngles()
        #expect(angles.count == 64)
        for (a, b) in zip(angles, angles.dropFirst()) { #expect(b > a) }
        for i in 0..<32 { #expect(abs(angles[i] + angles[63 - i]) < 1e-12) }
        // sin θ_b = -1 + (2b + 1)/64 for half-wavelength spacing
        #expect(abs(sin(angles[0]) - (-1 + 1.0 / 64)) < 1e-12)
        #expect(abs(sin(angles[40]) - (-1 + 81.0 / 64)) < 1e-12)
    }

    @Test func geodesyRoundTripsAndHasTheRightScale() {
        let ref = GeodeticReference(latitude: 33.42, longitude: -111.93, altitude: 360)
        let p = ref.toGeodetic(east: 123.4, north: -56.7)
        let back = ref.toLocal(lat: p.lat, lon: p.lon)
        #expect(abs(back.east - 123.4) < 1e-6 && abs(back.north + 56.7) < 1e-6)
        // one degree of latitude is R·π/180 metres
        let north = ref.toLocal(lat: 34.42, lon: -111.93).north
        #expect(abs(north - 6_371_000 * .pi / 180) < 1e-6)
        let east = ref.toLocal(lat: 33.42, lon: -110.93).east
        #expect(abs(east - 6_371_000 * .pi / 180 * cos(33.42 * .pi / 180)) < 1e-6)
    }

    @Test func poseRotatesAndInverts() {
        let pose = Pose(position: SIMD3(1, 2, 3), yawDeg: 90, pitchDeg: 10, rollDeg: 5)
        let forward = pose.directionToSite(SIMD3(1, 0, 0))
        #expect(abs(forward.x) < 1e-12 && abs(forward.y - cos(10 * .pi / 180)) < 1e-12 && abs(forward.z - sin(10 * .pi / 180)) < 1e-12)
        let p = SIMD3(4.0, -5.0, 6.0)
        let q = pose.toSite(pose.toBody(p))
        #expect(((q - p) * (q - p)).sum() < 1e-20)
    }

    static func mutated(_ transform: (String) -> String) throws -> String {
        transform(try String(contentsOfFile: SiteFixtures.root + "/Calibration/sim-site.yaml", encoding: .utf8))
    }

    @Test func rejectsBadValuesNamingTheKeyPath() throws {
        let yaml = try Self.mutated { $0.replacingOccurrences(of: "samples: 256", with: "samples: 0") }
        #expect(throws: ConfigError.self) { try Site.parse(yaml: yaml) }
        do {
            _ = try Site.parse(yaml: yaml)
        } catch {
            #expect(error.description.hasPrefix("radar.samples: must be within 1...8192"))
        }
    }

    @Test func rejectsUnknownKeys() throws {
        let yaml = try Self.mutated { $0.replacingOccurrences(of: "  rx: 4", with: "  rx: 4\n  rx_count: 4") }
        do {
            _ = try Site.parse(yaml: yaml)
            Issue.record("an unknown key was accepted")
        } catch {
            guard case .unknownKey(let key, let allowed) = error else { Issue.record("wrong error \(error)"); return }
            #expect(key == "radar.rx_count")
            #expect(allowed.contains("chirps"))
        }
    }

    @Test func rejectsMissingKeysAndInconsistentCodebook() throws {
        let missing = try Self.mutated { text in
            text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("  fx:") }.joined(separator: "\n")
        }
        #expect(throws: ConfigError.missing(key: "camera.fx")) { try Site.parse(yaml: missing) }
        let codebook = try Self.mutated { $0.replacingOccurrences(of: "beams: 64, oversampling: 4", with: "beams: 60, oversampling: 4") }
        #expect(throws: ConfigError.self) { try Site.parse(yaml: codebook) }
        let wrongType = try Self.mutated { $0.replacingOccurrences(of: "columns: 1024", with: "columns: many") }
        #expect(throws: ConfigError.wrongType(key: "lidar.columns", expected: "an integer")) { try Site.parse(yaml: wrongType) }
        #expect(throws: ConfigError.self) { try Site.parse(yaml: "site: [unclosed") }
    }
}
