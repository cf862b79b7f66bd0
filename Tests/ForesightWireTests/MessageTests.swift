import Foundation
import Testing
import ForesightTestSupport
@testable import ForesightWire

let header = Header(stamp: 1_700_000_000_000_000_000, seq: 7, frameID: "bs1/camera")

/// Builds a payload map by hand (for hostile and client-style encodings).
func payload(_ entries: [(String, MessagePackValue)]) -> [UInt8] {
    var w = MessagePackWriter()
    w.write(.map(entries.map { (key: $0.0, value: $0.1) }))
    return w.bytes
}

func headerEntries(stamp: MessagePackValue = .uint(1_700_000_000_000_000_000), seq: MessagePackValue = .uint(1),
                   frameID: MessagePackValue = .string("f")) -> [(String, MessagePackValue)] {
    [("stamp", stamp), ("seq", seq), ("frame_id", frameID)]
}

/// A real JPEG, made with libjpeg-turbo.
func jpeg(width: Int, height: Int) -> [UInt8] {
    TurboJPEGTestEncoder.encode(width: width, height: height)
}

@Suite struct RoundTripTests {
    func roundTrip<M: WireMessage & Equatable>(_ m: M) throws {
        let decoded = try M.decode(m.encoded())
        #expect(decoded == m)
    }

    @Test func sensors() throws {
        try roundTrip(Image(header: header, width: 1, height: 1, encoding: .rgb8, data: [1, 2, 3]))
        try roundTrip(Image(header: header, width: 3, height: 2, encoding: .mono8, data: Array(0..<6)))
        try roundTrip(Image(header: header, width: 2, height: 1, encoding: .bgr8, data: Array(0..<6)))
        try roundTrip(Image(header: header, width: 16, height: 8, encoding: .jpeg, data: jpeg(width: 16, height: 8)))
        try roundTrip(RadarCube(header: header, rx: 4, samples: 256, chirps: 128, dtype: .cf32,
                                data: PackedArray.bytes((0..<(4 * 256 * 128 * 2)).map { Float($0 % 97) })))
        try roundTrip(RadarCube(header: header, rx: 1, samples: 1, chirps: 1, dtype: .ci16, data: [1, 0, 255, 255]))
        try roundTrip(PointCloud(header: header, fields: ["x", "y", "z"], values: []))
        try roundTrip(PointCloud(header: header, fields: ["intensity", "z", "y", "x", "ring"], values: (0..<50).map(Float.init)))
        try roundTrip(GnssFix(header: header, lat: 33.42, lon: -111.93, alt: 350, hdop: 0.7, fix: .rtk))
        try roundTrip(BeamPower(header: header, power: [0, 1e-9, 3.5], unit: .mw))
        try roundTrip(BeamPower(header: header, power: [-80, -62.5], unit: .dbm))
        try roundTrip(TruthUE(header: header, east: 10, north: -3, velocityEast: 8, velocityNorth: 0.1, heading: 0.0125))
        try roundTrip(TruthBeam(header: header, best: 2, power: [0.1, 0.2, 0.9, 0.3]))
        try roundTrip(TruthBlockage(header: header, blocked: true))
    }

    @Test func nanSurvivesWhereAllowed() throws {
        let fix = try GnssFix.decode(GnssFix(header: header, lat: .nan, lon: .nan, alt: .nan, hdop: .nan, fix: .none).encoded())
        #expect(fix.lat.isNaN && !fix.isUsable)
        let power = try BeamPower.decode(BeamPower(header: header, power: [1, .nan, 2], unit: .mw).encoded())
        #expect(power.power[1].isNaN && power.power[2] == 2)
    }

    @Test func outputs() throws {
        let horizon: [Int64] = [1, 2, 3, 4, 5].map { header.stamp + $0 * 100_000_000 }
        try roundTrip(BeamPrediction(header: header, model: "classical-ctrv", horizon: horizon, best: [3, 3, 4, 4, 5],
                                     topk: Array(repeating: [3, 4, 2], count: 5), prob: Array(repeating: [0.5, 0.3, 0.2], count: 5)))
        try roundTrip(PositionPrediction(header: header, model: "m", horizon: horizon, east: [1, 2, 3, 4, 5], north: [0, 0, 0, 0, 0],
                                         lat: Array(repeating: 33.4, count: 5), lon: Array(repeating: -111.9, count: 5)))
        try roundTrip(PowerPrediction(header: header, model: "m", horizon: horizon, beam: [1, 1, 1, 2, 2], powerDBm: [-60, -61, -62, -63, -64]))
        try roundTrip(BlockagePrediction(header: header, model: "m", horizon: horizon, prob: [0, 0.1, 0.5, 0.9, 1]))
        try roundTrip(FusionFrame(header: header, members: [.init(modality: "camera", topic: "sensor/camera", stamp: 5, seq: 1)],
                                  missing: ["radar"], latencyNs: 1_234_567))
        try roundTrip(Diagnostics(header: header, uptimeS: 12.5,
                                  topics: [.init(topic: "sensor/camera", rateHz: 9.9, received: 100, rejected: 2, dropped: 1, alive: true)],
                                  rejections: [.init(topic: "sensor/camera", reason: "shape_mismatch", count: 2)],
                                  stages: [.init(stage: "end_to_end", queueDepth: 0, dropped: 0, p50Ms: 12, p99Ms: 30)]))
    }

    @Test func everyTypeDecodesThroughItsMessageType() throws {
        let m = GnssFix(header: header, lat: 1, lon: 2, alt: 3, hdop: 1, fix: .threeD)
        let any = try MessageType.gnssFix.decode(m.encoded(), topic: "bs1/sensor/gnss")
        #expect(any as? GnssFix == m)
        #expect(MessageType.forTopic("bs1/sensor/gnss", prefix: "bs1/") == .gnssFix)
        #expect(MessageType.forTopic("bs1/sensor/camera_raw", prefix: "bs1/") == nil)
    }

    @Test func clientEncodingsAreAccepted() throws {
        // msgpack-python sends stamps as uint64 and may send floats as float32 or integers.
        let bytes = payload(headerEntries(stamp: .uint(1_700_000_000_000_000_000), seq: .uint(4_294_967_295)) + [
            ("lat", .float32(33.5)), ("lon", .int(-111)), ("alt", .uint(350)), ("hdop", .float64(0.5)), ("fix", .string("2d")),
            ("vendor_extension", .map([("nested", .array([.null]))])),
        ])
        let fix = try GnssFix.decode(bytes)
        #expect(fix.header.seq == .max && fix.lat == 33.5 && fix.lon == -111 && fix.fix == .twoD)
    }

    @Test func maximumSizes() throws {
        var limits = WireLimits()
        limits.maxPayloadBytes = 2 << 20
        let wide = Image(header: header, width: 8192, height: 1, encoding: .mono8, data: Array(repeating: 9, count: 8192))
        #expect(try Image.decode(wide.encoded(), limits: limits).width == 8192)
        let cube = RadarCube(header: header, rx: 64, samples: 4096, chirps: 1, dtype: .ci16, data: Array(repeating: 0, count: 64 * 4096 * 4))
        #expect(try RadarCube.decode(cube.encoded(), limits: limits).samples == 4096)
        // A payload exactly at the limit passes the size check; one byte more does not.
        let exact = Image(header: header, width: 1, height: 1, encoding: .mono8, data: [0]).encoded()
        limits.maxPayloadBytes = exact.count
        #expect(throws: Never.self) { try Image.decode(exact, limits: limits) }
        limits.maxPayloadBytes = exact.count - 1
        #expect(throws: WireError.self) { try Image.decode(exact, limits: limits) }
        var points = WireLimits()
        points.maxPoints = 100_000
        let cloud = PointCloud(header: header, fields: ["x", "y", "z"], values: (0..<300_000).map { Float($0) })
        #expect(try PointCloud.decode(cloud.encoded(), limits: points).count == 100_000)
    }
}

/// Renders a tiny JPEG with libjpeg-turbo for tests.
enum TurboJPEGTestEncoder {
    static func encode(width: Int, height: Int) -> [UInt8] {
        TestJPEG.encode(width: width, height: height)
    }
}
