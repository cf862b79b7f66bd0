import Foundation
import Testing
import ForesightSite
import ForesightWire
@testable import ForesightPreprocess

@Suite struct GnssTests {
    @Test(arguments: [EquirectangularLatitude.reference, .mean])
    func projectionMatchesNumPyReference(mode: EquirectangularLatitude) throws {
        let refLat = 33.4209, refLon = -111.9290  // a Tempe, AZ-like base station
        let projector = try GnssProjector(referenceLatitude: refLat, referenceLongitude: refLon, latitudeMode: mode)
        var rng = SplitMix(seed: 5)
        var fixes: [Double] = []
        for _ in 0..<50 { fixes += [refLat + Double.random(in: -0.01...0.01, using: &rng), refLon + Double.random(in: -0.01...0.01, using: &rng)] }
        var ours: [Float] = []
        for i in 0..<50 {
            let p = try projector.project(latitude: fixes[2 * i], longitude: fixes[2 * i + 1])
            ours += [Float(p.x), Float(p.y)]
        }
        let dir = try Reference.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let expected = try Reference.run(["gnss", "--input", try Reference.write(fixes.littleEndianBytes, "fixes.bin", in: dir),
                                          "--ref", "\(refLat),\(refLon)", "--mode", mode == .reference ? "reference" : "mean"], dir: dir)
        let result = Reference.compare(ours, expected, absoluteFloor: 1e-3)
        #expect(result.bad == 0, "\(result.bad) values differ, worst \(result.worst)")
    }

    @Test func knownDistancesAndWrap() throws {
        let equator = try GnssProjector(referenceLatitude: 0, referenceLongitude: 179.999)
        // 0.001° of arc at 6371 km is 111.19 m; crossing the antimeridian stays local.
        let p = try equator.project(latitude: 0.001, longitude: -179.999)
        #expect(abs(p.y - 111.1949) < 1e-3)
        #expect(abs(p.x - 222.3899) < 1e-3)
        #expect(throws: PreprocessError.self) { try equator.project(latitude: .nan, longitude: 0) }
        #expect(throws: PreprocessError.self) { try equator.project(latitude: 91, longitude: 0) }
        #expect(throws: PreprocessError.self) { try GnssProjector(referenceLatitude: 0, referenceLongitude: 0, earthRadius: 0) }
    }
}

@Suite struct BeamPowerTests {
    static let power: [Float] = [0, .nan, 1e-13, 1e-3, 0.5, 1, 2.5e-6, -1, .infinity, 3e-9, 7e-4, 1e-15]

    @Test(arguments: [("none", BeamPowerNormalization.none), ("minmax:-120,-20", .minMax(min: -120, max: -20)),
                      ("standard:-70,15", .standard(mean: -70, std: 15)), ("pervector", .perVectorMinMax),
                      ("linearmax", .linearMax), ("abovefloor", .aboveFloor)])
    func milliwattMatchesNumPyReference(name: String, normalization: BeamPowerNormalization) throws {
        var params = BeamPowerParameters()
        params.normalization = normalization
        let beam = try BeamPowerPreprocessor(parameters: params)
        let ours = try beam.process(power: Self.power, unit: .mw)
        let dir = try Reference.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let expected = try Reference.run(["beam", "--input", try Reference.write(Self.power.littleEndianBytes, "p.bin", in: dir),
                                          "--unit", "mw", "--norm", name], dir: dir)
        let result = Reference.compare(ours, expected)
        #expect(result.bad == 0, "\(result.bad) values differ, worst \(result.worst)")
        #expect(ours.allSatisfy { $0.isFinite })
    }

    @Test func floorsNaNZerosAndLowValues() throws {
        let beam = try BeamPowerPreprocessor()
        let mw = try beam.process(power: [0, .nan, 1, 1e-20, 100], unit: .mw)
        #expect(mw == [-120, -120, 0, -120, 20])
        let dbm = try beam.process(power: [-50, .nan, -200, 10], unit: .dbm)
        #expect(dbm == [-50, -120, -120, 10])
        #expect(throws: PreprocessError.self) { try beam.process(power: [], unit: .dbm) }
        var bad = BeamPowerParameters()
        bad.normalization = .minMax(min: 1, max: 1)
        #expect(throws: PreprocessError.self) { try BeamPowerPreprocessor(parameters: bad) }
    }
}

@Suite struct SiteConfigurationTests {
    @Test func frontEndConfigurationFollowsTheSiteCalibration() throws {
        let path = Reference.root.appendingPathComponent("Calibration/sim-site.yaml").path
        let site = try Site.load(path: path)
        let config = try FrontEndConfiguration(site: site)
        #expect(config.gnss.referenceLatitude == site.origin.latitude)
        #expect(config.gnss.referenceLongitude == site.origin.longitude)
        #expect(config.beamPower.floorDBm == Float(site.beamPower.floorDbm))
        // The same projection as the site's own geodesy.
        let local = site.origin.toLocal(lat: site.origin.latitude + 0.0005, lon: site.origin.longitude - 0.0007)
        let ours = try config.gnss.project(latitude: site.origin.latitude + 0.0005, longitude: site.origin.longitude - 0.0007)
        #expect(abs(ours.x - local.east) < 1e-9 && abs(ours.y - local.north) < 1e-9)
    }

    @Test func siteNormalizationsMapToBeamPowerModes() throws {
        let cal = BeamPowerCalibration(frameID: "mmwave", unit: .mw, floorDbm: -85, normalization: .max)
        let beam = try BeamPowerPreprocessor(parameters: BeamPowerParameters(calibration: cal))
        let out = try beam.process(power: [1, 0.1, 0, .nan], unit: .mw)
        #expect(abs(out[0] - 1) < 1e-6 && abs(out[1] - 0.1) < 1e-6 && abs(out[2] - 3.1623e-9) < 1e-12 && out[3] == out[2])
        var floorCal = cal
        floorCal.normalization = .floor
        let above = try BeamPowerPreprocessor(parameters: BeamPowerParameters(calibration: floorCal)).process(power: [1, 0], unit: .mw)
        #expect(above == [85, 0])
    }
}
