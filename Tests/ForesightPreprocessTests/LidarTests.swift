import Foundation
import Testing
@testable import ForesightPreprocess

@Suite struct LidarTests {
    /// Random points in fields order [intensity, z, x, y], with a few NaN points.
    static func randomCloud(count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(seed: seed)
        var values: [Float] = []
        for i in 0..<count {
            let x = Float.random(in: -120...120, using: &rng), y = Float.random(in: -120...120, using: &rng)
            let z = Float.random(in: -20...20, using: &rng)
            values += [Float.random(in: 0...1, using: &rng), i % 97 == 0 ? .nan : z, x, y]
        }
        return values
    }

    @Test(arguments: [false, true])
    func depthImageMatchesNumPyReference(crop: Bool) throws {
        let count = 3000
        let fields = ["intensity", "z", "x", "y"]
        let bytes = Self.randomCloud(count: count, seed: crop ? 2 : 1).littleEndianBytes
        var params = LidarParameters()
        if crop { params.cropBox = AxisBox(min: SIMD3(-50, -60, -5), max: SIMD3(70, 40, 8)) }
        let lidar = try LidarPreprocessor(parameters: params)
        let ours = try lidar.process(points: bytes, count: count, fields: fields)
        let dir = try Reference.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var args = ["lidar", "--input", try Reference.write(bytes, "points.bin", in: dir),
                    "--count", "\(count)", "--fields", fields.joined(separator: ",")]
        if crop { args += ["--crop=-50,-60,-5,70,40,8"] }
        let expected = try Reference.run(args, dir: dir)
        #expect(ours.count == 64 * 256)
        #expect(ours.contains { $0 > 0 }, "some pixels are filled")
        let result = Reference.compare(ours, expected)
        #expect(result.bad == 0, "\(result.bad) pixels differ, worst \(result.worst)")
    }

    @Test func cylindricalWallIsFlatAtItsDistance() throws {
        // A circular wall of radius 20 m around the sensor, 2 m tall, densely sampled.
        var points: [Float] = []
        for a in 0..<2048 { for h in 0...20 {
            let yaw = Double(a) / 2048 * 2 * .pi
            points += [Float(20 * cos(yaw)), Float(20 * sin(yaw)), Float(-1 + Double(h) * 0.1)]
        } }
        let lidar = try LidarPreprocessor()
        let image = try lidar.process(points: points.littleEndianBytes, count: points.count / 3, fields: ["x", "y", "z"])
        // Pitch ±2.86° covers rows 25...38 of 64 (30° span); every column of the inner rows is filled.
        for row in 0..<64 {
            let values = (0..<256).map { image[row * 256 + $0] }
            if (27...36).contains(row) {
                #expect(values.allSatisfy { $0 >= 0.19999 && $0 <= 0.2003 }, "row \(row) is flat at 20 m / 100 m: \(values.min() ?? 0)...\(values.max() ?? 0)")
            } else if row < 25 || row > 38 {
                #expect(values.allSatisfy { $0 == 0 }, "row \(row) is empty")
            }
        }
    }

    @Test func planarWallNearestReturnIsItsDistance() throws {
        // A wall at x = 10 m facing the sensor: the centre pixel holds the perpendicular distance.
        var points: [Float] = []
        for iy in -20...20 { for iz in -10...10 { points += [10, Float(iy) * 0.05, Float(iz) * 0.05] } }
        let lidar = try LidarPreprocessor()
        let image = try lidar.process(points: points.littleEndianBytes, count: points.count / 3, fields: ["x", "y", "z"])
        // yaw 0 → column 128; pitch 0 → row 32.
        #expect(abs(image[32 * 256 + 128] - 0.1) < 1e-6)
        let filled = image.filter { $0 > 0 }
        #expect(!filled.isEmpty && filled.allSatisfy { $0 >= 0.1 && $0 < 0.1007 })
        // Everything behind or beside the wall stays empty.
        #expect(image[32 * 256 + 0] == 0 && image[32 * 256 + 64] == 0)
    }

    @Test func voxelGridReplacesPointsByCentroids() throws {
        var params = LidarParameters()
        params.voxelLeaf = SIMD3(1, 1, 1)
        let lidar = try LidarPreprocessor(parameters: params)
        let input: [SIMD4<Float>] = [SIMD4(0.1, 0.1, 0.1, 0), SIMD4(0.3, 0.5, 0.7, 0), SIMD4(5.5, 5.5, 5.5, 0)]
        let out = try lidar.filter(points: input).sorted { $0.x < $1.x }
        #expect(out.count == 2)
        #expect(out.count == 2 && abs(out[0].x - 0.2) < 1e-6 && abs(out[0].y - 0.3) < 1e-6 && abs(out[0].z - 0.4) < 1e-6)
        #expect(out.count == 2 && out[1] == SIMD4(5.5, 5.5, 5.5, 0))
    }

    @Test func outlierRemovalDropsAnIsolatedPoint() throws {
        var params = LidarParameters()
        params.outlierRemoval = OutlierRemoval(meanK: 8, stddevMultiplier: 1.0)
        let lidar = try LidarPreprocessor(parameters: params)
        var input: [SIMD4<Float>] = []
        for i in 0..<10 { for j in 0..<10 { input.append(SIMD4(Float(i) * 0.1, Float(j) * 0.1, 5, 0)) } }
        input.append(SIMD4(30, 30, 30, 0))
        let out = try lidar.filter(points: input)
        #expect(!out.contains(SIMD4(30, 30, 30, 0)))
        #expect(out.count >= 90 && out.count <= 100)
    }

    @Test func outlierRemovalWithFewerPointsThanNeighboursDoesNotFail() throws {
        var params = LidarParameters()
        params.outlierRemoval = OutlierRemoval(meanK: 50, stddevMultiplier: 1.0)
        let lidar = try LidarPreprocessor(parameters: params)
        let out = try lidar.filter(points: [SIMD4(1, 0, 0, 0), SIMD4(1.1, 0, 0, 0), SIMD4(1, 0.1, 0, 0)])
        #expect(out.count <= 3)
        #expect(try lidar.filter(points: []).isEmpty)
    }

    @Test func tooSmallVoxelLeafIsReportedNotIgnored() throws {
        var params = LidarParameters()
        params.voxelLeaf = SIMD3(0.0001, 0.0001, 0.0001)
        let lidar = try LidarPreprocessor(parameters: params)
        #expect(throws: PreprocessError.self) {
            try lidar.filter(points: [SIMD4(-100, -100, -10, 0), SIMD4(100, 100, 10, 0)])
        }
    }

    @Test func badInputsAreRejected() throws {
        let lidar = try LidarPreprocessor()
        #expect(throws: PreprocessError.missingField("z")) {
            try lidar.process(points: [UInt8](repeating: 0, count: 8), count: 1, fields: ["x", "y"])
        }
        #expect(throws: PreprocessError.sizeMismatch(modality: .lidar, expected: 24, actual: 20)) {
            try lidar.process(points: [UInt8](repeating: 0, count: 20), count: 2, fields: ["x", "y", "z"])
        }
        #expect(throws: PreprocessError.self) { try lidar.process(points: [], count: -1, fields: ["x", "y", "z"]) }
        var bad = LidarParameters()
        bad.fovUpDegrees = -20
        #expect(throws: PreprocessError.self) { try LidarPreprocessor(parameters: bad) }
        var badBox = LidarParameters()
        badBox.cropBox = AxisBox(min: SIMD3(0, .nan, 0), max: SIMD3(1, 1, 1))
        #expect(throws: PreprocessError.self) { try LidarPreprocessor(parameters: badBox) }
    }
}
