import ForesightCore
import CPCLShim
import Foundation

/// An axis-aligned box in sensor coordinates (metres), bounds inclusive.
public struct AxisBox: Sendable, Equatable {
    /// Lower corner (x, y, z).
    public var min: SIMD3<Float>
    /// Upper corner (x, y, z).
    public var max: SIMD3<Float>

    /// Creates a box.
    public init(min: SIMD3<Float>, max: SIMD3<Float>) { self.min = min; self.max = max }
}

/// Statistical outlier removal settings (PCL `StatisticalOutlierRemoval`).
public struct OutlierRemoval: Sendable, Equatable {
    /// Number of neighbours used for each point's mean distance.
    public var meanK: Int = 20
    /// Points farther than mean + stddevMultiplier × σ are removed.
    public var stddevMultiplier: Double = 2.0

    /// Creates the settings.
    public init(meanK: Int = 20, stddevMultiplier: Double = 2.0) {
        self.meanK = meanK; self.stddevMultiplier = stddevMultiplier
    }
}

/// The LiDAR's pose in the site frame (rotation columns and position), for the site-frame points
/// the classical predictor reads: `p_site = origin + x·rx + y·ry + z·rz`.
public struct LidarSitePose: Sendable, Equatable {
    /// Rotation column of the sensor's x axis.
    public var rx: SIMD3<Float>
    /// Rotation column of the sensor's y axis.
    public var ry: SIMD3<Float>
    /// Rotation column of the sensor's z axis.
    public var rz: SIMD3<Float>
    /// Sensor position in the site frame, metres.
    public var origin: SIMD3<Float>

    /// Creates a pose.
    public init(rx: SIMD3<Float>, ry: SIMD3<Float>, rz: SIMD3<Float>, origin: SIMD3<Float>) {
        self.rx = rx; self.ry = ry; self.rz = rz; self.origin = origin
    }
}

/// LiDAR preprocessing parameters (JEPA-MSAC §III-A3: 64×256, +15°/−15°, 100 m).
public struct LidarParameters: Sendable, Equatable {
    /// Depth image rows (pitch bins).
    public var rows: Int = 64
    /// Depth image columns (yaw bins over 360°).
    public var columns: Int = 256
    /// Upper edge of the vertical field of view, degrees.
    public var fovUpDegrees: Double = 15
    /// Lower edge of the vertical field of view, degrees.
    public var fovDownDegrees: Double = -15
    /// Largest range kept; also the normalization divisor (metres).
    public var maxRange: Double = 100
    /// Optional PCL crop box (applied first).
    public var cropBox: AxisBox? = nil
    /// Optional PCL voxel-grid leaf size in metres (applied second).
    public var voxelLeaf: SIMD3<Float>? = nil
    /// Optional PCL statistical outlier removal (applied last).
    public var outlierRemoval: OutlierRemoval? = nil
    /// Largest accepted point count (bounds allocation).
    public var maxPoints: Int = 1 << 20
    /// Largest accepted number of fields per point.
    public var maxFields: Int = 64
    /// The sensor's pose in the site frame; with it the stage also gives the site-frame points
    /// (the classical predictor's view). Does not change the depth image.
    public var sitePose: LidarSitePose? = nil

    /// Creates the default parameters (no PCL filters).
    public init() {}

    /// Checks that every field is usable.
    public func validate() throws(PreprocessError) {
        guard (1...4096).contains(rows), (1...16384).contains(columns) else {
            throw .badParameter("lidar image \(rows)x\(columns) must be within 1...4096 x 1...16384")
        }
        guard fovUpDegrees.isFinite, fovDownDegrees.isFinite, fovUpDegrees > fovDownDegrees,
              fovUpDegrees <= 90, fovDownDegrees >= -90 else {
            throw .badParameter("lidar fov up \(fovUpDegrees)° must exceed fov down \(fovDownDegrees)°, both within ±90°")
        }
        guard maxRange.isFinite, maxRange > 0 else { throw .badParameter("lidar maxRange must be positive") }
        if let box = cropBox, !(box.min.x.isFinite && box.min.y.isFinite && box.min.z.isFinite
                                && box.max.x.isFinite && box.max.y.isFinite && box.max.z.isFinite) || any(box.min .> box.max) {
            throw .badParameter("lidar crop box min \(box.min) must not exceed max \(box.max)")
        }
        if let leaf = voxelLeaf, !(leaf.x > 0 && leaf.y > 0 && leaf.z > 0) {
            throw .badParameter("lidar voxel leaf \(leaf) must be positive on every axis")
        }
        if let sor = outlierRemoval, sor.meanK < 1 || sor.meanK > 1000 || !(sor.stddevMultiplier >= 0) {
            throw .badParameter("lidar outlier removal needs meanK in 1...1000 and stddevMultiplier >= 0")
        }
        guard maxPoints > 0, maxFields > 0 else { throw .badParameter("lidar maxPoints and maxFields must be positive") }
    }
}

/// Turns a raw point cloud into a normalized spherical depth image [rows, columns] float32.
///
/// Input: `count` points of `fields.count` little-endian float32 values each; `x`, `y`, `z`
/// can be in any position, other fields are ignored; non-finite points are dropped. Optional
/// PCL filters run next (crop box → voxel grid → statistical outlier removal). Projection, in
/// Double: `r = |p|`, `yaw = atan2(y, x)`, `pitch = asin(z / r)`;
/// `col = floor(0.5 (1 − yaw/π) W)`, `row = floor((1 − (pitch − down)/(up − down)) H)`, both
/// clamped to the image. Points with `r == 0`, `r > maxRange` or pitch outside [down, up] are
/// dropped. Each pixel keeps the nearest return as `r / maxRange`; empty pixels are 0.
///
/// Not thread-safe: owns scratch buffers. Use one per actor/thread.
public final class LidarPreprocessor {
    /// The parameters this preprocessor was built with.
    public let parameters: LidarParameters
    private var packed: UnsafeMutableBufferPointer<SIMD4<Float>>
    private var filtered: UnsafeMutableBufferPointer<SIMD4<Float>>

    /// Number of floats in one depth image.
    public var outputCount: Int { parameters.rows * parameters.columns }

    /// Creates a preprocessor; fails on invalid parameters.
    public init(parameters: LidarParameters = LidarParameters()) throws(PreprocessError) {
        try parameters.validate()
        self.parameters = parameters
        packed = .allocate(capacity: 0)
        filtered = .allocate(capacity: 0)
    }

    deinit {
        packed.deallocate()
        filtered.deallocate()
    }

    /// Processes one cloud and writes the depth image (row-major [rows, columns]) into `output`.
    public func process(points: UnsafeRawBufferPointer, count: Int, fields: [String],
                        into output: UnsafeMutableBufferPointer<Float>) throws(PreprocessError) {
        let kept = try pack(points: points, count: count, fields: fields)
        let cloud = try filter(count: kept)
        try project(cloud, into: output)
    }

    /// Convenience: processes one cloud into a new array.
    public func process(points: [UInt8], count: Int, fields: [String]) throws(PreprocessError) -> [Float] {
        var out = [Float](repeating: 0, count: outputCount)
        let result = points.withUnsafeBytes { p in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(PreprocessError) in try process(points: p, count: count, fields: fields, into: o) }
            }
        }
        try result.get()
        return out
    }

    /// Processes one cloud into a new depth image and, when ``LidarParameters/sitePose`` is set,
    /// every finite point of the cloud (before the PCL filters) in the site frame — read once.
    public func processWithSitePoints(points: [UInt8], count: Int, fields: [String]) throws(PreprocessError) -> (depth: [Float], sitePoints: [SIMD3<Float>]?) {
        var out = [Float](repeating: 0, count: outputCount)
        var site: [SIMD3<Float>]?
        let result = points.withUnsafeBytes { p in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(PreprocessError) in
                    let kept = try pack(points: p, count: count, fields: fields)
                    if let pose = parameters.sitePose { site = Self.transform(packed, count: kept, pose: pose) }
                    try project(try filter(count: kept), into: o)
                }
            }
        }
        try result.get()
        return (out, site)
    }

    /// Every finite point of a cloud (before the PCL filters) in the site frame, without the depth
    /// image — the same points, bit for bit, as ``processWithSitePoints(points:count:fields:)``;
    /// nil when ``LidarParameters/sitePose`` is not set. The cloud is checked as for the depth image
    /// (fields, size, point limit).
    public func sitePoints(points: [UInt8], count: Int, fields: [String]) throws(PreprocessError) -> [SIMD3<Float>]? {
        let result = points.withUnsafeBytes { p in
            Result { () throws(PreprocessError) -> [SIMD3<Float>]? in
                let kept = try pack(points: p, count: count, fields: fields)
                return parameters.sitePose.map { Self.transform(packed, count: kept, pose: $0) }
            }
        }
        return try result.get()
    }

    /// `origin + rx·x + ry·y + rz·z` for the first `count` points, lane by lane in that order (the
    /// same rounding as the SIMD expression; scalar so that debug builds stay fast).
    private static func transform(_ points: UnsafeMutableBufferPointer<SIMD4<Float>>, count: Int, pose: LidarSitePose) -> [SIMD3<Float>] {
        let (o, a, b, c) = (pose.origin, pose.rx, pose.ry, pose.rz)
        let (ox, oy, oz) = (o.x, o.y, o.z), (ax, ay, az) = (a.x, a.y, a.z)
        let (bx, by, bz) = (b.x, b.y, b.z), (cx, cy, cz) = (c.x, c.y, c.z)
        return [SIMD3<Float>](unsafeUninitializedCapacity: count) { out, initialized in
            points.withMemoryRebound(to: Float.self) { p in
                for i in 0..<count {
                    let x = p[4 * i], y = p[4 * i + 1], z = p[4 * i + 2]
                    (out.baseAddress! + i).initialize(to: SIMD3(ox + ax * x + bx * y + cx * z,
                                                                oy + ay * x + by * y + cy * z,
                                                                oz + az * x + bz * y + cz * z))
                }
            }
            initialized = count
        }
    }

    /// Runs only the configured PCL filters on x,y,z,pad points; returns the kept points.
    public func filter(points: [SIMD4<Float>]) throws(PreprocessError) -> [SIMD4<Float>] {
        guard points.count <= parameters.maxPoints else {
            throw .badDimensions(modality: .lidar, detail: "\(points.count) points, limit \(parameters.maxPoints)")
        }
        ensureCapacity(points.count)
        for (i, p) in points.enumerated() { packed[i] = p }
        let cloud = try filter(count: points.count)
        return Array(cloud)
    }

    /// Projects x,y,z,pad points into the depth image `output` (`outputCount` floats).
    public func project(_ cloud: UnsafeBufferPointer<SIMD4<Float>>, into output: UnsafeMutableBufferPointer<Float>) throws(PreprocessError) {
        guard output.count >= outputCount, let out = output.baseAddress else {
            throw .outputSize(modality: .lidar, expected: outputCount, actual: output.count)
        }
        let h = parameters.rows, w = parameters.columns
        let up = parameters.fovUpDegrees * .pi / 180, down = parameters.fovDownDegrees * .pi / 180
        let fov = up - down, maxRange = parameters.maxRange
        // Accumulate minimum range with +inf meaning "empty", then normalize.
        out.initialize(repeating: .infinity, count: h * w)
        for p in cloud {
            let x = Double(p.x), y = Double(p.y), z = Double(p.z)
            let r = (x * x + y * y + z * z).squareRoot()
            guard r > 0, r <= maxRange else { continue }
            let pitch = asin(z / r)
            guard pitch >= down, pitch <= up else { continue }
            let yaw = atan2(y, x)
            let col = min(max(Int((0.5 * (1 - yaw / .pi) * Double(w)).rounded(.down)), 0), w - 1)
            let row = min(max(Int(((1 - (pitch - down) / fov) * Double(h)).rounded(.down)), 0), h - 1)
            let value = Float(r / maxRange)
            let index = row * w + col
            if value < out[index] { out[index] = value }
        }
        for i in 0..<(h * w) where out[i] == .infinity { out[i] = 0 }
    }

    private func ensureCapacity(_ count: Int) {
        if packed.count < count {
            packed.deallocate(); filtered.deallocate()
            packed = .allocate(capacity: count)
            filtered = .allocate(capacity: count)
        }
    }

    /// Reads x, y, z from the wire layout into `packed`, dropping non-finite points.
    private func pack(points: UnsafeRawBufferPointer, count: Int, fields: [String]) throws(PreprocessError) -> Int {
        guard count >= 0, count <= parameters.maxPoints, !fields.isEmpty, fields.count <= parameters.maxFields else {
            throw .badDimensions(modality: .lidar,
                                 detail: "\(count) points × \(fields.count) fields, limits \(parameters.maxPoints) × \(parameters.maxFields)")
        }
        guard let ix = fields.firstIndex(of: "x") else { throw .missingField("x") }
        guard let iy = fields.firstIndex(of: "y") else { throw .missingField("y") }
        guard let iz = fields.firstIndex(of: "z") else { throw .missingField("z") }
        let stride = fields.count * 4
        let expected = count * stride
        guard points.count == expected else { throw .sizeMismatch(modality: .lidar, expected: expected, actual: points.count) }
        ensureCapacity(count)
        @inline(__always) func load(_ offset: Int) -> Float {
            Float(bitPattern: UInt32(littleEndian: points.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
        var kept = 0
        for i in 0..<count {
            let base = i * stride
            let x = load(base + 4 * ix), y = load(base + 4 * iy), z = load(base + 4 * iz)
            guard x.isFinite, y.isFinite, z.isFinite else { continue }
            packed[kept] = SIMD4(x, y, z, 0)
            kept += 1
        }
        return kept
    }

    /// Runs the configured PCL filters over `packed[0..<count]`.
    private func filter(count: Int) throws(PreprocessError) -> UnsafeBufferPointer<SIMD4<Float>> {
        let p = parameters
        guard p.cropBox != nil || p.voxelLeaf != nil || p.outlierRemoval != nil else {
            return UnsafeBufferPointer(rebasing: packed[0..<count])
        }
        var c = fs_pcl_filter_params()
        if let box = p.cropBox {
            c.use_crop_box = 1
            c.crop_min = (box.min.x, box.min.y, box.min.z)
            c.crop_max = (box.max.x, box.max.y, box.max.z)
        }
        if let leaf = p.voxelLeaf {
            c.use_voxel_grid = 1
            c.leaf = (leaf.x, leaf.y, leaf.z)
        }
        if let sor = p.outlierRemoval {
            c.use_outlier_removal = 1
            c.mean_k = Int32(sor.meanK)
            c.stddev_mul = sor.stddevMultiplier
        }
        var kept = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = packed.withMemoryRebound(to: Float.self) { src in
            filtered.withMemoryRebound(to: Float.self) { dst in
                message.withUnsafeMutableBufferPointer { m in
                    fs_pcl_filter(src.baseAddress, count, &c, dst.baseAddress, filtered.count, &kept, m.baseAddress, m.count)
                }
            }
        }
        guard status == 0 else {
            let text = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .pointCloudFilter("code \(status): \(text)")
        }
        return UnsafeBufferPointer(rebasing: filtered[0..<kept])
    }
}
