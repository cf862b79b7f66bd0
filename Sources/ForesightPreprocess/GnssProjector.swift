import Foundation

/// Which latitude's cosine scales longitude differences in the equirectangular projection.
public enum EquirectangularLatitude: Sendable, Equatable {
    /// cos(φ₀) of the reference (base station) latitude.
    case reference
    /// cos((φ + φ₀) / 2), the mean of fix and reference latitudes.
    case mean
}

/// Projects GNSS latitude/longitude to local east/north metres around a reference point
/// (the base station's geodetic position from the site calibration), JEPA-MSAC §III-A4:
/// `east = R · Δλ · cos φ_s`, `north = R · Δφ` (radians, Δλ wrapped to [−π, π)).
public struct GnssProjector: Sendable, Equatable {
    /// Reference latitude, degrees.
    public let referenceLatitude: Double
    /// Reference longitude, degrees.
    public let referenceLongitude: Double
    /// Earth radius in metres (paper: 6371 km).
    public let earthRadius: Double
    /// Which latitude scales longitude.
    public let latitudeMode: EquirectangularLatitude

    /// Creates a projector; fails when the reference is not a valid coordinate.
    public init(referenceLatitude: Double, referenceLongitude: Double, earthRadius: Double = 6_371_000,
                latitudeMode: EquirectangularLatitude = .reference) throws(PreprocessError) {
        try Self.check(latitude: referenceLatitude, longitude: referenceLongitude)
        guard earthRadius.isFinite, earthRadius > 0 else { throw .badParameter("earth radius \(earthRadius) must be positive") }
        self.referenceLatitude = referenceLatitude
        self.referenceLongitude = referenceLongitude
        self.earthRadius = earthRadius
        self.latitudeMode = latitudeMode
    }

    /// Projects one fix to (east, north) metres.
    public func project(latitude: Double, longitude: Double) throws(PreprocessError) -> SIMD2<Double> {
        try Self.check(latitude: latitude, longitude: longitude)
        let rad = Double.pi / 180
        var dLon = (longitude - referenceLongitude).truncatingRemainder(dividingBy: 360)
        if dLon >= 180 { dLon -= 360 } else if dLon < -180 { dLon += 360 }
        let phi = latitudeMode == .reference ? referenceLatitude : (latitude + referenceLatitude) / 2
        let east = earthRadius * dLon * rad * cos(phi * rad)
        let north = earthRadius * (latitude - referenceLatitude) * rad
        return SIMD2(east, north)
    }

    private static func check(latitude: Double, longitude: Double) throws(PreprocessError) {
        guard latitude.isFinite, longitude.isFinite, (-90...90).contains(latitude), (-180...360).contains(longitude) else {
            throw .badCoordinate("latitude \(latitude) / longitude \(longitude) is not a valid coordinate (|lat| ≤ 90, lon in −180…360)")
        }
    }
}
