import ForesightSite
import Foundation

/// One propagation path from the UE to the base-station array.
public struct ChannelPath: Sendable, Equatable {
    /// Line of sight, or a first-order reflection off facade `index`.
    public enum Kind: Sendable, Equatable {
        /// The direct path.
        case lineOfSight
        /// A specular reflection off the facade with this index.
        case reflection(facade: Int)
    }

    /// Which path.
    public var kind: Kind
    /// Total length, metres.
    public var length: Double
    /// Direction cosine along the array axis (body y) of the arrival: `sin θ` for a level path.
    public var sinAzimuth: Double
    /// Complex amplitude (real part) including path loss, reflection, blockage, element pattern.
    public var re: Double
    /// Complex amplitude (imaginary part).
    public var im: Double
    /// Loss added by vehicle bodies crossing the path, dB (0 when clear).
    public var blockageDb: Double
}

/// A geometric narrowband channel at the mmWave carrier: line of sight plus first-order
/// specular reflections off the facades (image method), free-space path loss, a fixed loss per
/// reflection, a per-vehicle loss for each body crossing a path, a cos element pattern (nothing
/// from behind the array), and the oversampled-DFT codebook of the site.
public struct ChannelModel: Sendable {
    let array: MmWaveArray
    let facades: [Scenario.Facade]
    let reflections: Bool
    let txPowerMw: Double
    let noiseMw: Double
    let arrayOrigin: SIMD3<Double>
    /// Codebook weights, `beams × elements`, real and imaginary parts (already conjugated).
    let weightsRe: [Double]
    let weightsIm: [Double]

    /// Creates the channel for a site's array and a scenario's link budget.
    public init(site: Site, scenario: Scenario) {
        array = site.mmwave
        facades = scenario.facades
        reflections = scenario.reflections
        txPowerMw = pow(10, (scenario.txPowerDbm + scenario.ueGainDbi) / 10)
        noiseMw = pow(10, scenario.noiseDbm / 10)
        arrayOrigin = site.mmwave.pose.position
        let n = array.elements
        var re = [Double](repeating: 0, count: array.beams * n)
        var im = re
        let norm = 1 / Double(n).squareRoot()
        for (b, u) in array.steeringSines().enumerated() {
            for e in 0..<n {
                let phase = -2 * Double.pi * array.spacingWavelengths * Double(e) * u
                re[b * n + e] = cos(phase) * norm
                im[b * n + e] = sin(phase) * norm
            }
        }
        weightsRe = re
        weightsIm = im
    }

    /// Total body loss (dB) of vehicles crossing the segment a→b, and whether any does.
    static func blockage(_ a: SIMD3<Double>, _ b: SIMD3<Double>, blockers: [VehicleState]) -> Double {
        var loss = 0.0
        for v in blockers where v.box.intersectsSegment(a, b) { loss += v.blockageLossDb }
        return min(loss, 80)
    }

    /// The paths from a UE antenna at `ue` to the array; `blockers` are every vehicle but the UE.
    public func paths(ue: SIMD3<Double>, blockers: [VehicleState]) -> [ChannelPath] {
        var result: [ChannelPath] = []
        let bs = arrayOrigin
        func add(_ kind: ChannelPath.Kind, arrivalFrom point: SIMD3<Double>, length: Double, extraLossDb: Double, blockageDb: Double) {
            let local = array.pose.directionToBody(point - bs)
            let distance = (local * local).sum().squareRoot()
            guard distance > 1e-6 else { return }
            let forward = local.x / distance
            guard forward > 0 else { return }
            let element = forward.squareRoot()          // amplitude of a cos power pattern
            let lambda = array.wavelength
            let amplitude = lambda / (4 * .pi * max(length, lambda)) * pow(10, -(extraLossDb + blockageDb) / 20) * element
            let phase = -2 * Double.pi * length.truncatingRemainder(dividingBy: lambda) / lambda
            result.append(ChannelPath(kind: kind, length: length, sinAzimuth: local.y / distance,
                                      re: amplitude * cos(phase), im: amplitude * sin(phase), blockageDb: blockageDb))
        }
        let los = ue - bs
        add(.lineOfSight, arrivalFrom: ue, length: (los * los).sum().squareRoot(), extraLossDb: 0,
            blockageDb: Self.blockage(bs, ue, blockers: blockers))
        guard reflections else { return result }
        for (index, facade) in facades.enumerated() {
            // Both ends must be on the same side of the facade for a specular reflection.
            let sideUE = ue.y - facade.north, sideBS = bs.y - facade.north
            guard sideUE * sideBS > 0 else { continue }
            let image = SIMD3(ue.x, 2 * facade.north - ue.y, ue.z)
            let f = (facade.north - bs.y) / (image.y - bs.y)
            let bounce = bs + (image - bs) * f
            guard bounce.z >= 0, bounce.z <= facade.height else { continue }
            let d = image - bs
            let loss = Self.blockage(bs, bounce, blockers: blockers) + Self.blockage(bounce, ue, blockers: blockers)
            add(.reflection(facade: index), arrivalFrom: bounce, length: (d * d).sum().squareRoot(),
                extraLossDb: facade.reflectionLossDb, blockageDb: min(loss, 80))
        }
        return result
    }

    /// Noiseless received power of every beam, mW: `P · |w_bᴴ h|²`.
    public func beamPowers(paths: [ChannelPath]) -> [Double] {
        let n = array.elements
        // channel vector h[e] = Σ_p a_p · exp(j·2π·d·e·sinθ_p)
        var hRe = [Double](repeating: 0, count: n), hIm = hRe
        for p in paths {
            let step = 2 * Double.pi * array.spacingWavelengths * p.sinAzimuth
            let (cs, ss) = (cos(step), sin(step))
            var (cr, ci) = (p.re, p.im)
            for e in 0..<n {
                hRe[e] += cr
                hIm[e] += ci
                (cr, ci) = (cr * cs - ci * ss, cr * ss + ci * cs)
            }
        }
        var powers = [Double](repeating: 0, count: array.beams)
        weightsRe.withUnsafeBufferPointer { wr in
            weightsIm.withUnsafeBufferPointer { wi in
                for b in 0..<array.beams {
                    var yr = 0.0, yi = 0.0
                    let base = b * n
                    for e in 0..<n {
                        yr += wr[base + e] * hRe[e] - wi[base + e] * hIm[e]
                        yi += wr[base + e] * hIm[e] + wi[base + e] * hRe[e]
                    }
                    powers[b] = txPowerMw * (yr * yr + yi * yi)
                }
            }
        }
        return powers
    }

    /// Adds receiver noise to noiseless powers: each beam measurement is `|√P·wᴴh + n|²` with
    /// complex Gaussian `n` of power `noise_dbm`. The phase of the signal does not matter for
    /// the magnitude, so the signal is put on the real axis.
    public func measured(_ powers: [Double], random: inout SimRandom) -> [Double] {
        let sigma = (noiseMw / 2).squareRoot()
        return powers.map { p in
            let re = p.squareRoot() + sigma * random.gaussian()
            let im = sigma * random.gaussian()
            return re * re + im * im
        }
    }
}
