import ForesightSite
import Foundation

/// A GNSS fix produced by the model.
public struct GnssSample: Sendable, Equatable {
    /// Latitude, degrees.
    public var lat: Double
    /// Longitude, degrees.
    public var lon: Double
    /// Altitude, metres.
    public var alt: Double
    /// Reported horizontal dilution of precision.
    public var hdop: Double
    /// Position error east, metres (for tests and evaluation).
    public var errorEast: Double
    /// Position error north, metres.
    public var errorNorth: Double
}

/// GNSS receiver error: per horizontal axis a first-order Gauss–Markov bias (standard deviation
/// σ_b, correlation time τ — the slowly wandering part) plus white noise σ_w, and dropouts that
/// start as a Poisson process and last a random time (no fix is published during a dropout).
public struct GnssModel: Sendable {
    let reference: GeodeticReference
    let biasSigma: Double
    let tau: Double
    let whiteSigma: Double
    let dropoutRate: Double
    let dropoutDuration: ClosedRange<Double>
    let hdop: Double
    let altitude: Double
    private var biasEast: Double
    private var biasNorth: Double
    private var lastTime: Double?
    private var dropoutUntil = -Double.infinity

    /// Creates the model; the bias starts drawn from its stationary distribution.
    public init(reference: GeodeticReference, scenario: Scenario, random: inout SimRandom) {
        self.reference = reference
        biasSigma = scenario.gnssBiasSigma
        tau = scenario.gnssBiasTau
        whiteSigma = scenario.gnssWhiteSigma
        dropoutRate = scenario.gnssDropoutsPerMinute / 60
        dropoutDuration = scenario.gnssDropoutDuration
        hdop = scenario.gnssHdop
        altitude = reference.altitude + scenario.ue.antennaHeight
        biasEast = biasSigma * random.gaussian()
        biasNorth = biasSigma * random.gaussian()
    }

    /// The fix for a UE at site position (`east`, `north`) at time `time` (s, increasing), or
    /// nil during a dropout.
    public mutating func fix(east: Double, north: Double, time: Double, random: inout SimRandom) -> GnssSample? {
        let dt = lastTime.map { max(0, time - $0) } ?? 0
        lastTime = time
        let decay = exp(-dt / tau)
        let drive = biasSigma * (1 - decay * decay).squareRoot()
        biasEast = biasEast * decay + drive * random.gaussian()
        biasNorth = biasNorth * decay + drive * random.gaussian()
        let errorEast = biasEast + whiteSigma * random.gaussian()
        let errorNorth = biasNorth + whiteSigma * random.gaussian()
        let altitudeError = 1.5 * whiteSigma * random.gaussian()
        let startsDropout = random.chance(1 - exp(-dropoutRate * dt))
        let duration = random.uniform(dropoutDuration)
        if time < dropoutUntil { return nil }
        if startsDropout {
            dropoutUntil = time + duration
            return nil
        }
        let position = reference.toGeodetic(east: east + errorEast, north: north + errorNorth)
        return GnssSample(lat: position.lat, lon: position.lon, alt: altitude + altitudeError,
                          hdop: hdop, errorEast: errorEast, errorNorth: errorNorth)
    }
}
