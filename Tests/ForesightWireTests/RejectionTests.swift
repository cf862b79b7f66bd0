import Foundation
import Testing
@testable import ForesightWire

/// One test per documented rejection reason: a bad payload in, the named reason and field out.
@Suite struct RejectionTests {
    func expectRejection<M: WireMessage>(_ type: M.Type, _ bytes: [UInt8], _ reason: RejectionReason, field: String? = nil,
                                         limits: WireLimits = .default, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try M.decode(bytes, topic: "bs1/topic", limits: limits)
            Issue.record("expected \(reason.rawValue), but the message was accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
            #expect(error.topic == "bs1/topic", sourceLocation: sourceLocation)
            if let field { #expect(error.field == field, "\(error)", sourceLocation: sourceLocation) }
            #expect(!error.description.isEmpty)
        }
    }

    let fix: [(String, MessagePackValue)] = [("lat", .float64(1)), ("lon", .float64(2)), ("alt", .float64(3)), ("hdop", .float64(1)), ("fix", .string("3d"))]

    @Test func payloadTooLarge() {
        var limits = WireLimits()
        limits.maxPayloadBytes = 10
        expectRejection(GnssFix.self, payload(headerEntries() + fix), .payloadTooLarge, limits: limits)
    }

    @Test func malformedAndStrictMsgpack() {
        expectRejection(GnssFix.self, [0x85, 0xa1], .malformed)
        expectRejection(GnssFix.self, [0xdf, 0xff, 0xff, 0xff, 0xff], .malformed)
        expectRejection(GnssFix.self, payload(headerEntries() + fix) + [0xc0], .trailingBytes)
        expectRejection(GnssFix.self, [0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02], .duplicateKey)
        expectRejection(GnssFix.self, [0x81, 0x01, 0x02], .nonStringKey)
        expectRejection(GnssFix.self, [0x92, 0x01, 0x02], .notAMap)
        let deep = MessagePackValue.array([]), nested = (0..<40).reduce(deep) { v, _ in .array([v]) }
        expectRejection(GnssFix.self, payload(headerEntries() + fix + [("x", nested)]), .tooDeep)
    }

    @Test func headerFields() {
        expectRejection(GnssFix.self, payload(Array(headerEntries().dropFirst()) + fix), .missingField, field: "stamp")
        expectRejection(GnssFix.self, payload(headerEntries(stamp: .string("now")) + fix), .wrongType, field: "stamp")
        expectRejection(GnssFix.self, payload(headerEntries(stamp: .uint(UInt64(Int64.max) + 1)) + fix), .outOfRange, field: "stamp")
        expectRejection(GnssFix.self, payload(headerEntries(seq: .uint(1 << 32)) + fix), .outOfRange, field: "seq")
        expectRejection(GnssFix.self, payload(headerEntries(seq: .int(-1)) + fix), .outOfRange, field: "seq")
        expectRejection(GnssFix.self, payload(headerEntries(frameID: .string("")) + fix), .badFrameID, field: "frame_id")
        expectRejection(GnssFix.self, payload(headerEntries(frameID: .string(String(repeating: "x", count: 257))) + fix), .badFrameID)
        expectRejection(GnssFix.self, payload(headerEntries(frameID: .binary([0x61])) + fix), .wrongType, field: "frame_id")
    }

    @Test func camera() {
        let raw: [(String, MessagePackValue)] = [("width", .uint(2)), ("height", .uint(2)), ("encoding", .string("rgb8"))]
        expectRejection(Image.self, payload(headerEntries() + raw + [("data", .binary([UInt8](repeating: 0, count: 11)))]), .shapeMismatch, field: "data")
        expectRejection(Image.self, payload(headerEntries() + raw + [("data", .string("abc"))]), .wrongType, field: "data")
        expectRejection(Image.self, payload(headerEntries() + [("width", .uint(2)), ("height", .uint(2)), ("encoding", .string("RGB8")),
                                                               ("data", .binary([]))]), .unknownEnum, field: "encoding")
        expectRejection(Image.self, payload(headerEntries() + [("width", .uint(9000)), ("height", .uint(1)), ("encoding", .string("mono8")),
                                                               ("data", .binary([]))]), .limitExceeded, field: "width")
        expectRejection(Image.self, payload(headerEntries() + [("width", .uint(0)), ("height", .uint(1)), ("encoding", .string("mono8")),
                                                               ("data", .binary([]))]), .outOfRange, field: "width")
        let jpegBytes = jpeg(width: 16, height: 8)
        expectRejection(Image.self, payload(headerEntries() + [("width", .uint(8)), ("height", .uint(16)), ("encoding", .string("jpeg")),
                                                               ("data", .binary(jpegBytes))]), .jpegHeader, field: "data")
        expectRejection(Image.self, payload(headerEntries() + [("width", .uint(8)), ("height", .uint(16)), ("encoding", .string("jpeg")),
                                                               ("data", .binary([0xff, 0xd8, 0x00, 0x01]))]), .jpegHeader, field: "data")
    }

    @Test func radar() {
        func cube(_ shape: [UInt64], dtype: String = "cf32", data: [UInt8]) -> [UInt8] {
            payload(headerEntries() + [("shape", .array(shape.map { .uint($0) })), ("dtype", .string(dtype)), ("data", .binary(data))])
        }
        expectRejection(RadarCube.self, cube([1, 2, 3], data: [UInt8](repeating: 0, count: 47)), .shapeMismatch, field: "data")
        expectRejection(RadarCube.self, cube([1, 2], data: []), .shapeMismatch, field: "shape")
        expectRejection(RadarCube.self, cube([1, 1, 1], dtype: "cf64", data: [UInt8](repeating: 0, count: 16)), .unknownDtype, field: "dtype")
        expectRejection(RadarCube.self, cube([65, 1, 1], data: []), .limitExceeded, field: "shape[0]")
        expectRejection(RadarCube.self, cube([1, 4097, 1], data: []), .limitExceeded, field: "shape[1]")
        expectRejection(RadarCube.self, cube([1, 1, 0], data: []), .outOfRange, field: "shape[2]")
        // Huge dimensions whose product would overflow are refused by the per-dimension limits first.
        expectRejection(RadarCube.self, cube([UInt64.max, UInt64.max, 2], data: []), .outOfRange)
        expectRejection(RadarCube.self, cube([1, 1, 1], data: PackedArray.bytes([1, .nan])), .nonFinite, field: "data")
        expectRejection(RadarCube.self, cube([1, 1, 1], data: PackedArray.bytes([.infinity, 0])), .nonFinite, field: "data")
    }

    @Test func lidar() {
        func cloud(_ fields: [String], count: UInt64, data: [UInt8], dtype: String = "f32") -> [UInt8] {
            payload(headerEntries() + [("fields", .array(fields.map { .string($0) })), ("dtype", .string(dtype)),
                                       ("count", .uint(count)), ("data", .binary(data))])
        }
        expectRejection(PointCloud.self, cloud(["x", "y"], count: 0, data: []), .missingField, field: "fields")
        expectRejection(PointCloud.self, cloud(["x", "y", "z", "x"], count: 0, data: []), .duplicateKey, field: "fields")
        expectRejection(PointCloud.self, cloud(["x", "y", "z"], count: 2, data: PackedArray.bytes([1, 2, 3])), .shapeMismatch, field: "data")
        expectRejection(PointCloud.self, cloud(["x", "y", "z"], count: 0, data: [], dtype: "f64"), .unknownDtype, field: "dtype")
        expectRejection(PointCloud.self, cloud(["x", "y", "z"], count: 2_000_001, data: []), .limitExceeded, field: "count")
    }

    @Test func lidarNonFinitePointsAreDroppedNotRejected() throws {
        let values: [Float] = [1, 2, 3, 9, .nan, 0, 0, 9, 4, 5, 6, .nan, 0, .infinity, 0, 9]
        let cloud = try PointCloud.decode(PointCloud(header: header, fields: ["x", "y", "z", "i"], values: values).encoded())
        #expect(cloud.count == 2 && cloud.droppedNonFinite == 2)
        let kept = PackedArray.floats(cloud.data)
        #expect(kept.prefix(4) == [1, 2, 3, 9])
        #expect(kept[4...6] == [4, 5, 6] && kept[7].isNaN)  // a NaN in an extra field is carried
    }

    @Test func gnss() {
        func gnss(lat: Double = 1, lon: Double = 2, hdop: Double = 1, fix: String = "3d") -> [UInt8] {
            payload(headerEntries() + [("lat", .float64(lat)), ("lon", .float64(lon)), ("alt", .float64(0)),
                                       ("hdop", .float64(hdop)), ("fix", .string(fix))])
        }
        expectRejection(GnssFix.self, gnss(lat: 90.5), .outOfRange, field: "lat")
        expectRejection(GnssFix.self, gnss(lon: -180.1), .outOfRange, field: "lon")
        expectRejection(GnssFix.self, gnss(hdop: -1), .outOfRange, field: "hdop")
        expectRejection(GnssFix.self, gnss(lat: .nan), .nonFinite, field: "lat")
        expectRejection(GnssFix.self, gnss(fix: "3D"), .unknownEnum, field: "fix")
        #expect(throws: Never.self) { try GnssFix.decode(gnss(lat: .nan, lon: .nan, hdop: .nan, fix: "none")) }
    }

    @Test func beamPower() {
        func power(_ values: [Float], unit: String = "mw", shape: [UInt64]? = nil) -> [UInt8] {
            payload(headerEntries() + [("power", .binary(PackedArray.bytes(values))), ("dtype", .string("f32")),
                                       ("shape", .array((shape ?? [UInt64(values.count)]).map { .uint($0) })), ("unit", .string(unit))])
        }
        expectRejection(BeamPower.self, power([1, -0.5]), .outOfRange, field: "power[1]")
        expectRejection(BeamPower.self, power([1, .infinity]), .nonFinite, field: "power[1]")
        expectRejection(BeamPower.self, power([1, 2], shape: [3]), .shapeMismatch, field: "power")
        expectRejection(BeamPower.self, power([1], unit: "W"), .unknownEnum, field: "unit")
        #expect(throws: Never.self) { try BeamPower.decode(power([-70, -90.5], unit: "dbm")) }
    }

    @Test func outputsValidateTheirShapes() {
        let bad = BeamPrediction(header: header, model: "m", horizon: [1, 2], best: [1], topk: [[1], [2]], prob: [[1], [1]])
        expectRejection(BeamPrediction.self, bad.encoded(), .shapeMismatch, field: "best")
        let prob = BlockagePrediction(header: header, model: "m", horizon: [1], prob: [1.5])
        expectRejection(BlockagePrediction.self, prob.encoded(), .outOfRange, field: "prob[0]")
        let order = PowerPrediction(header: header, model: "m", horizon: [2, 1], beam: [0, 0], powerDBm: [0, 0])
        expectRejection(PowerPrediction.self, order.encoded(), .outOfRange, field: "horizon[1]")
    }

    @Test func everyReasonHasADocumentedName() throws {
        let doc = try String(contentsOfFile: ForesightTestSupportPaths.protocolDoc, encoding: .utf8)
        for reason in RejectionReason.allCases { #expect(doc.contains("`\(reason.rawValue)`"), "\(reason.rawValue) undocumented") }
        for event in StreamEvent.allCases { #expect(doc.contains("`\(event.rawValue)`"), "\(event.rawValue) undocumented") }
    }
}

import ForesightTestSupport

enum ForesightTestSupportPaths {
    static var protocolDoc: String { TestSupport.path("docs/protocol.md") }
}
