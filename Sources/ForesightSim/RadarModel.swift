import ForesightSite
import Foundation

/// A point scatterer seen by the radar.
public struct RadarScatterer: Sendable, Equatable {
    /// Position in the site frame, metres.
    public var position: SIMD3<Double>
    /// Velocity in the site frame, m/s.
    public var velocity: SIMD3<Double>
    /// Radar cross-section, m².
    public var rcs: Double

    /// Creates a scatterer.
    public init(position: SIMD3<Double>, velocity: SIMD3<Double>, rcs: Double) {
        self.position = position
        self.velocity = velocity
        self.rcs = rcs
    }
}

/// Synthesizes the raw FMCW IF cube `[rx, samples, chirps]` (complex float, I/Q interleaved)
/// from point scatterers.
///
/// For a scatterer at range R, radial velocity v (positive receding) and direction cosine u
/// along the receive array (positive to the left):
/// `s[r, n, c] = A · exp(j·(2π·f_b·n/f_s + 2π·(2v/λ)·c·T_c − π·r·u + 4πR/λ))` with beat
/// frequency `f_b = 2·S·R/c` and amplitude `A = scale·√σ / R²`, plus thermal noise
/// (`SimRandom.fastNormal`, Gaussian after the FFTs).
/// The receive antennas are half a wavelength apart, rx 0 rightmost. Phases advance by
/// recurrences (one complex multiply per sample), never by sin/cos per sample.
public struct RadarModel: Sendable {
    let radar: RadarCalibration
    let noiseSigma: Double
    let amplitudeScale: Double
    let fovCos: Double

    /// Creates the model for a site's radar and a scenario's radar parameters.
    public init(radar: RadarCalibration, noiseSigma: Double, amplitudeScale: Double, fovDeg: Double) {
        self.radar = radar
        self.noiseSigma = noiseSigma
        self.amplitudeScale = amplitudeScale
        self.fovCos = cos(fovDeg * .pi / 180)
    }

    /// Number of floats in a cube (2 per complex sample).
    public var floatCount: Int { 2 * radar.rx * radar.samples * radar.chirps }

    /// The scatterers of one vehicle body: points along the side and the end facing the radar,
    /// at bumper height.
    public func scatterers(of vehicle: VehicleState) -> [RadarScatterer] {
        let box = vehicle.box
        let local = box.toLocal(radar.pose.position)
        let side = (local.y >= 0 ? 1.0 : -1.0) * box.half.y
        let end = (local.x >= 0 ? 1.0 : -1.0) * box.half.x
        let z = -box.half.z + min(0.6, box.half.z)
        let points = [SIMD3(-0.6 * box.half.x, side, z), SIMD3(0, side, z), SIMD3(0.6 * box.half.x, side, z),
                      SIMD3(end, 0, z), SIMD3(end, side, z)]
        return points.map { RadarScatterer(position: box.toSite($0), velocity: vehicle.velocity, rcs: vehicle.rcs) }
    }

    /// Fills `cube` (length `floatCount`) with noise and adds every scatterer in the field of view.
    public func synthesize(scatterers: [RadarScatterer], into cube: inout [Float], random: inout SimRandom) {
        if cube.count != floatCount { cube = [Float](repeating: 0, count: floatCount) }
        let sigma = Float(noiseSigma)
        cube.withUnsafeMutableBufferPointer { buffer in
            if sigma > 0 {
                for i in 0..<buffer.count { buffer[i] = sigma * random.fastNormal() }
            } else {
                for i in 0..<buffer.count { buffer[i] = 0 }
            }
            var doppler = [Float](repeating: 0, count: 2 * radar.chirps)
            var dopplerJ = doppler
            for scatterer in scatterers {
                add(scatterer, to: buffer, doppler: &doppler, dopplerJ: &dopplerJ)
            }
        }
    }

    private func add(_ scatterer: RadarScatterer, to cube: UnsafeMutableBufferPointer<Float>,
                     doppler: inout [Float], dopplerJ: inout [Float]) {
        let local = radar.pose.toBody(scatterer.position)
        let range = (local * local).sum().squareRoot()
        guard range > 0.1, range < radar.maxRange, local.x / range >= fovCos else { return }
        let u = local.y / range
        let lineOfSight = (scatterer.position - radar.pose.position) / range
        let radialVelocity = (scatterer.velocity * lineOfSight).sum()
        let lambda = radar.wavelength
        let amplitude = amplitudeScale * scatterer.rcs.squareRoot() / (range * range)
        let beat = 2 * radar.slopeHzPerS * range / 299_792_458.0
        let rangeStep = 2 * Double.pi * beat / radar.sampleRateHz
        let dopplerStep = 2 * Double.pi * (2 * radialVelocity / lambda) * radar.chirpPeriodS
        let phase0 = (4 * Double.pi * range / lambda).truncatingRemainder(dividingBy: 2 * .pi)
        // Doppler table T[c] = A·exp(j(phase0 + c·dopplerStep)) by recurrence, and j·T, so that
        // adding b·T[c] to a row is two real multiply-adds per float (contiguous, vectorizable).
        let (ds, dc) = (sin(dopplerStep), cos(dopplerStep))
        var (pr, pi) = (amplitude * cos(phase0), amplitude * sin(phase0))
        for c in 0..<radar.chirps {
            doppler[2 * c] = Float(pr)
            doppler[2 * c + 1] = Float(pi)
            dopplerJ[2 * c] = Float(-pi)
            dopplerJ[2 * c + 1] = Float(pr)
            (pr, pi) = (pr * dc - pi * ds, pr * ds + pi * dc)
        }
        let (rs, rc) = (sin(rangeStep), cos(rangeStep))
        let chirps = radar.chirps, samples = radar.samples
        let rowLength = 2 * chirps
        doppler.withUnsafeBufferPointer { table in
            dopplerJ.withUnsafeBufferPointer { tableJ in
                guard let t = table.baseAddress, let tj = tableJ.baseAddress, let out = cube.baseAddress else { return }
                for r in 0..<radar.rx {
                    let rxPhase = -Double.pi * Double(r) * u
                    var (br, bi) = (cos(rxPhase), sin(rxPhase))
                    for n in 0..<samples {
                        let fr = Float(br), fi = Float(bi)
                        let row = out + 2 * (r * samples + n) * chirps
                        for k in 0..<rowLength {
                            row[k] += fr * t[k] + fi * tj[k]
                        }
                        (br, bi) = (br * rc - bi * rs, br * rs + bi * rc)
                    }
                }
            }
        }
    }
}
