import Foundation

/// The site's geodetic origin and the local equirectangular projection around it.
///
/// The site frame is a local east-north-up frame: `east` and `north` in metres from the origin,
/// `up` in metres above the origin's altitude. Over a street-sized site (a few hundred metres)
/// the equirectangular projection with a spherical Earth (R = 6371 km) is accurate to
/// centimetres, far below GNSS error.
public struct GeodeticReference: Sendable, Equatable {
    /// Mean Earth radius used by the projection, metres.
    public static let earthRadius = 6_371_000.0

    /// Latitude of the origin, degrees (WGS-84, positive north).
    public var latitude: Double
    /// Longitude of the origin, degrees (WGS-84, positive east).
    public var longitude: Double
    /// Altitude of the origin, metres.
    public var altitude: Double

    /// Creates a reference from the origin's latitude, longitude (degrees) and altitude (metres).
    public init(latitude: Double, longitude: Double, altitude: Double = 0) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
    }

    private var cosLatitude: Double { cos(latitude * .pi / 180) }

    /// Projects a geodetic position to site metres east and north of the origin.
    public func toLocal(lat: Double, lon: Double) -> (east: Double, north: Double) {
        var dLon = lon - longitude
        if dLon > 180 { dLon -= 360 } else if dLon < -180 { dLon += 360 }
        let east = dLon * .pi / 180 * cosLatitude * Self.earthRadius
        let north = (lat - latitude) * .pi / 180 * Self.earthRadius
        return (east, north)
    }

    /// The inverse of `toLocal`: site metres east and north to latitude and longitude (degrees).
    public func toGeodetic(east: Double, north: Double) -> (lat: Double, lon: Double) {
        let lat = latitude + north / Self.earthRadius * 180 / .pi
        var lon = longitude + east / (Self.earthRadius * cosLatitude) * 180 / .pi
        if lon > 180 { lon -= 360 } else if lon < -180 { lon += 360 }
        return (lat, lon)
    }
}
