/// The identity of a preprocessing front end: which tensors it produces from the same raw input.
///
/// A learned model is only valid for the preprocessing it was trained on. `foresight dataset`
/// records ``fingerprint(of:)`` of its front end in the dataset manifest, training copies it into the
/// model's `config.json`, and the daemon refuses a model whose value differs from the one its own
/// launch file gives. Both sides call this one function.
public enum PreprocessingVersion {
    /// Bumped whenever preprocessing code changes what it outputs for the same parameters (a new
    /// resize kernel, a faster JPEG decode that is not bit-identical, another radar recipe, …).
    /// Changing it invalidates every dataset and model: regenerate and retrain with `make train`.
    public static let code = "preprocess-1"

    /// A canonical, human-readable description of everything in `configuration` that affects
    /// the output tensors (queue capacities and other scheduling settings are left out), plus
    /// the code version.
    public static func description(of configuration: FrontEndConfiguration) -> String {
        func f(_ v: Float) -> String { String(v.bitPattern, radix: 16) }
        func d(_ v: Double) -> String { String(v.bitPattern, radix: 16) }
        let c = configuration.camera
        let crop = c.crop.map { "\($0.x),\($0.y),\($0.width),\($0.height)" } ?? "none"
        let camera = "camera(out=\(c.outputWidth)x\(c.outputHeight);mean=\(c.mean.map(f));std=\(c.std.map(f));crop=\(crop);"
            + "reduced=\(c.reducedJPEGDecode))"
        let r = configuration.radar
        let radarNorm: String
        switch r.normalization {
        case .divideByMax: radarNorm = "max"
        case .none: radarNorm = "none"
        }
        let radar = "radar(angles=\(r.angleBins);norm=\(radarNorm);measure=\(r.measureAnglePlan))"
        let l = configuration.lidar
        let box = l.cropBox.map { "\([$0.min.x, $0.min.y, $0.min.z, $0.max.x, $0.max.y, $0.max.z].map(f))" } ?? "none"
        let leaf = l.voxelLeaf.map { "\([$0.x, $0.y, $0.z].map(f))" } ?? "none"
        let outlier = l.outlierRemoval.map { "\($0.meanK),\(d($0.stddevMultiplier))" } ?? "none"
        let lidar = "lidar(rows=\(l.rows);cols=\(l.columns);up=\(d(l.fovUpDegrees));down=\(d(l.fovDownDegrees));"
            + "range=\(d(l.maxRange));crop=\(box);voxel=\(leaf);outlier=\(outlier))"
        let g = configuration.gnss
        let gnss = "gnss(lat=\(d(g.referenceLatitude));lon=\(d(g.referenceLongitude));R=\(d(g.earthRadius));"
            + "mode=\(g.latitudeMode == .reference ? "reference" : "mean"))"
        let b = configuration.beamPower
        let power: String
        switch b.normalization {
        case .none: power = "none"
        case let .minMax(lo, hi): power = "minmax(\(f(lo)),\(f(hi)))"
        case let .standard(mean, std): power = "standard(\(f(mean)),\(f(std)))"
        case .perVectorMinMax: power = "pervector"
        case .linearMax: power = "linearmax"
        case .aboveFloor: power = "abovefloor"
        }
        let beams = "power(floor=\(f(b.floorDBm));norm=\(power))"
        return [code, camera, radar, lidar, gnss, beams].joined(separator: "|")
    }

    /// The preprocessing version: 16 hex digits of a 64-bit FNV-1a hash of
    /// ``description(of:)``. Equal front ends give equal values on every machine.
    public static func fingerprint(of configuration: FrontEndConfiguration) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in description(of: configuration).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
