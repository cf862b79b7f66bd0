import ForesightCore
import Foundation

/// Turns a radar range-angle map (as `ForesightPreprocess`'s `RadarPreprocessor` writes it:
/// `[angleBins, rangeBins]`, clutter removed, angle zero in the middle, any scale) into
/// detections in the site frame, for the classical predictor's blockage evidence.
///
/// A cell is a detection when it is a local maximum of its 3×3 neighbourhood and exceeds
/// `threshold` times the map's median (a scale-free noise floor: the map is mostly noise). Bin
/// geometry: range bin r is `r · rangeResolution` metres (slant range); angle bin a has direction
/// cosine u = (A/2 − a)/(A/2) along the receive array (positive to the left of the boresight,
/// rx 0 rightmost, half-wavelength spacing), so the body azimuth is asin(u) and the site azimuth
/// is the radar's yaw plus that.
public struct RadarDetector: Sendable {
    /// Detector settings.
    public struct Parameters: Sendable, Equatable {
        /// A detection exceeds this multiple of the map median.
        public var threshold: Float
        /// At most this many detections per frame (strongest first).
        public var maxDetections: Int
        /// Ignore detections closer than this, metres (antenna leakage).
        public var minRange: Double

        /// Creates settings.
        public init(threshold: Float = 8, maxDetections: Int = 32, minRange: Double = 1.5) {
            self.threshold = threshold
            self.maxDetections = maxDetections
            self.minRange = minRange
        }
    }

    /// Settings.
    public var parameters: Parameters
    /// Metres per range bin.
    public let rangeResolution: Double
    /// Radar position, east/north metres (site frame).
    public let origin: SIMD2<Double>
    /// Radar height above the site origin, metres (slant ranges are projected to the ground plane
    /// at `targetHeight`).
    public let height: Double
    /// Height of the reflecting parts of vehicles, metres.
    public let targetHeight: Double
    /// Radar yaw, radians counter-clockwise from east.
    public let yaw: Double

    /// Creates a detector for a radar at `origin`/`height` facing `yaw`.
    public init(rangeResolution: Double, origin: SIMD2<Double>, height: Double, yaw: Double,
                targetHeight: Double = 0.6, parameters: Parameters = Parameters()) {
        self.rangeResolution = rangeResolution
        self.origin = origin
        self.height = height
        self.yaw = yaw
        self.targetHeight = targetHeight
        self.parameters = parameters
    }

    /// Detections in `map` (`angleBins × rangeBins`, row-major by angle).
    public func detect(map: [Float], angleBins: Int, rangeBins: Int) -> RadarDetections {
        guard angleBins >= 3, rangeBins >= 3, map.count == angleBins * rangeBins else {
            return RadarDetections(origin: origin, detections: [])
        }
        var sorted = map
        let mid = sorted.count / 2
        sorted.withUnsafeMutableBufferPointer { b in
            // nth_element: a partial quickselect is enough for the median.
            var lo = 0, hi = b.count - 1
            while lo < hi {
                let pivot = b[(lo + hi) / 2]
                var i = lo, j = hi
                while i <= j {
                    while b[i] < pivot { i += 1 }
                    while b[j] > pivot { j -= 1 }
                    if i <= j { b.swapAt(i, j); i += 1; j -= 1 }
                }
                if mid <= j { hi = j } else if mid >= i { lo = i } else { break }
            }
        }
        let floor = sorted[mid]
        guard floor > 0, floor.isFinite else { return RadarDetections(origin: origin, detections: []) }
        let level = floor * parameters.threshold
        let firstBin = max(1, Int((parameters.minRange / rangeResolution).rounded(.up)))
        var found: [(power: Float, a: Int, r: Int)] = []
        map.withUnsafeBufferPointer { m in
            for a in 1..<(angleBins - 1) {
                for r in max(1, firstBin)..<(rangeBins - 1) {
                    let v = m[a * rangeBins + r]
                    guard v > level else { continue }
                    var peak = true
                    neighbours: for da in -1...1 {
                        for dr in -1...1 where da != 0 || dr != 0 {
                            if m[(a + da) * rangeBins + r + dr] > v { peak = false; break neighbours }
                        }
                    }
                    if peak { found.append((v, a, r)) }
                }
            }
        }
        found.sort { $0.power > $1.power }
        let half = Double(angleBins) / 2
        let drop = height - targetHeight
        let detections = found.prefix(parameters.maxDetections).map { d -> RadarDetection in
            let slant = Double(d.r) * rangeResolution
            let ground = (max(0, slant * slant - drop * drop)).squareRoot()
            let u = min(1, max(-1, (half - Double(d.a)) / half))
            return RadarDetection(range: ground, azimuth: yaw + asin(u), power: Double(d.power / floor))
        }
        return RadarDetections(origin: origin, detections: Array(detections))
    }
}
